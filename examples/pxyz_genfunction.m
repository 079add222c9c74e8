function [y1] = pxyz_genfunction(x1)
%PXYZ_GENFUNCTION neural network simulation function.
%
% Written by symnet's examples/write_genfunction.py in the format of MATLAB's genFunction.
%
% [y1] = pxyz_genfunction(x1) takes these arguments:
%   x1 = 3xQ matrix, input #1
% and returns:
%   y1 = 1xQ matrix, output #1
% where Q is the number of samples.

%#ok<*RPMT0>

% ===== NEURAL NETWORK CONSTANTS =====

% Input 1
x1_step1.xoffset = [250.51788658154322;0.010026270334233653;1.0111620210888366];
x1_step1.gain = [0.020123155934620697;50.06136687132617;0.5027970384074671];
x1_step1.ymin = -1;

% Layer 1
b1 = [-0.251607504278752;2.9366009858665345;-0.7237282211668188;-1.064495979688145;2.606185263439967;1.7033091629099266;-1.9898460147236723;5.798102362760737;-1.745051005760465;-0.42455688963343563];
IW1_1 = [0.12812064259594097 -0.23554681975188715 0.07914513330275988;0.13955879693851833 0.46801995528869955 -0.09420508856336084;0.10736950321691623 -0.20001569739985375 -0.06500937916570762;0.13001930454837307 -0.7993437602648351 0.07745625950123497;-0.14858221460364268 1.8209547650176485 -0.09209104998363972;-0.05232545259046712 1.4751472043827678 0.06415270099456767;0.051099343609688666 -1.0462597101766045 -0.04709840677301475;-0.16757495616469625 4.338349135436625 -0.15506353046288582;0.049219366640187716 -1.2973577239432001 -0.056595533042177015;-0.00395002933527108 -0.8541326154744505 -0.03418453303823076];

% Layer 2
b2 = -45.087833676425085;
LW2_1 = [1.2853499535294521 15.725288555143734 -2.179614636605884 2.291484789942275 -3.47383686871423 10.845747140709042 -63.07420567236009 -2.0150677172584124 37.8070042882261 0.855596339119219];

% Output 1
y1_step1.xoffset = 51.663121492933996;
y1_step1.gain = 0.001636128278907891;
y1_step1.ymin = -1;

% ===== SIMULATION ========

% Dimensions
Q = size(x1,2); % samples

% Input 1
xp1 = mapminmax_apply(x1,x1_step1);

% Layer 1
a1 = tansig_apply(repmat(b1,1,Q) + IW1_1*xp1);

% Layer 2
a2 = repmat(b2,1,Q) + LW2_1*a1;

% Output 1
y1 = mapminmax_reverse(a2,y1_step1);
end

% ===== MODULE FUNCTIONS ========

% Map Minimum and Maximum Input Processing Function
function y = mapminmax_apply(x,settings)
y = bsxfun(@minus,x,settings.xoffset);
y = bsxfun(@times,y,settings.gain);
y = bsxfun(@plus,y,settings.ymin);
end

% Sigmoid Symmetric Transfer Function
function a = tansig_apply(n,~)
a = 2 ./ (1 + exp(-2*n)) - 1;
end

% Map Minimum and Maximum Output Reverse-Processing Function
function x = mapminmax_reverse(y,settings)
x = bsxfun(@minus,y,settings.ymin);
x = bsxfun(@rdivide,x,settings.gain);
x = bsxfun(@plus,x,settings.xoffset);
end
