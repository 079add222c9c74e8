function symnet_export(net, filename)
%SYMNET_EXPORT Save a trained shallow network for symnet.
%
%   symnet_export(net, 'file.mat') writes the weights (IW, LW, b), the
%   connection matrices, the layer sizes and transfer functions, and every
%   input's and output's processing functions with their settings, as plain
%   structs and cells in a MAT-file of version 7. symnet reads it with
%       net = symnet.load('file.mat')
%
%   net is a network object (fitnet, feedforwardnet, patternnet,
%   cascadeforwardnet, network, ...) or a struct with the same fields.
%   Time-series networks (timedelaynet, narxnet open or closed loop,
%   layrecnet, distdelaynet) are saved with the delays of every weight;
%   symnet reads them as one time step with the delay states as inputs.
%   Runs in MATLAB and in GNU Octave; needs no toolbox of its own.

  s = struct();
  s.format = 'symnet-matlab-network';
  s.version = 1;
  s.name = optional_text(net, 'name');
  s.numInputs = net.numInputs;
  s.numLayers = net.numLayers;
  s.biasConnect = double(net.biasConnect);
  s.inputConnect = double(net.inputConnect);
  s.layerConnect = double(net.layerConnect);
  s.outputConnect = double(net.outputConnect);

  s.inputs = cell(1, net.numInputs);
  for i = 1:net.numInputs
    s.inputs{i} = processing(net.inputs{i});
    s.inputs{i}.size = net.inputs{i}.size;
  end

  s.layers = cell(1, net.numLayers);
  s.outputs = cell(1, net.numLayers);
  s.b = cell(net.numLayers, 1);
  for i = 1:net.numLayers
    layer = struct();
    layer.size = net.layers{i}.size;
    layer.transferFcn = net.layers{i}.transferFcn;
    layer.netInputFcn = optional_text(net.layers{i}, 'netInputFcn');
    s.layers{i} = layer;
    if net.biasConnect(i)
      s.b{i} = net.b{i};
    end
    if net.outputConnect(i)
      s.outputs{i} = processing(net.outputs{i});
    end
  end

  [s.IW, s.inputWeights] = weights(net.IW, net.inputWeights, net.inputConnect);
  [s.LW, s.layerWeights] = weights(net.LW, net.layerWeights, net.layerConnect);

  symnet_network = s;
  save(filename, 'symnet_network', '-v7');
end

function out = processing(port)
  % processFcns and processSettings of one input or output, settings kept
  % to their numeric fields (enough for every processing function symnet reads).
  out = struct();
  out.processFcns = cell(1, numel(port.processFcns));
  out.processSettings = cell(1, numel(port.processFcns));
  for k = 1:numel(port.processFcns)
    out.processFcns{k} = port.processFcns{k};
    out.processSettings{k} = numeric_fields(port.processSettings{k});
  end
end

function out = numeric_fields(settings)
  out = struct();
  names = fieldnames(settings);
  for k = 1:numel(names)
    value = settings.(names{k});
    if isnumeric(value) || islogical(value)
      out.(names{k}) = double(value);
    end
  end
end

function [values, details] = weights(matrices, descriptions, connected)
  % The weight matrices and, for each connection, its weight function and delays.
  values = cell(size(connected));
  details = cell(size(connected));
  for i = 1:size(connected, 1)
    for j = 1:size(connected, 2)
      if ~connected(i, j)
        continue
      end
      delays = descriptions{i, j}.delays;
      values{i, j} = matrices{i, j};
      detail = struct();
      detail.weightFcn = optional_text(descriptions{i, j}, 'weightFcn');
      detail.delays = double(delays);
      details{i, j} = detail;
    end
  end
end

function text = optional_text(object, field)
  % A text property that a network object always has, but a look-alike struct may lack.
  try
    text = object.(field);
  catch
    text = '';
  end
end
