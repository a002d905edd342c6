using System.Globalization;
using System.Text.Json;
using Convnet.Data;
using Convnet.IO;
using Convnet.IO.Onnx;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Tensors;

namespace Convnet.Saving;

/// <summary>
/// Reads an ONNX classifier into a <see cref="Sequential"/> (<c>convnet import</c>): a chain of
/// nodes from one image input [N, C, H, W] (C 1 or 3) to one output, each node (or pair, as
/// MatMul then Add) turned into a layer by the layer kind that takes its op
/// (<see cref="ILayerKind.FromOnnx"/>), its weights converted to our layouts. The walk itself
/// knows only what is no layer: Identity; our own export's Div by 255 (or Mul by 1/255) at the
/// input (our data path scales the pixels already); a Transpose to NHWC before a Flatten (the Dense after it then
/// takes its columns in (C, H, W) order); Constant nodes. Anything else is refused naming the node
/// and its op. A network that does not begin with that scaling is taken to expect pixels scaled to
/// 0–1, as our data path gives them. Without a final Softmax one is appended: our classifiers
/// output probabilities.
/// </summary>
public static class OnnxImport
{
    /// <summary>The ops the import takes, for messages and help.</summary>
    public const string Ops = "Conv, Relu, LeakyRelu, MaxPool, AveragePool, GlobalAveragePool, BatchNormalization, Flatten, Reshape (to 2-D), Gemm, MatMul (+ Add), Softmax, Dropout, Identity";

    /// <summary>The largest image side an imported input may declare.</summary>
    public const int MaxImageSide = 16384;

    /// <summary>
    /// Reads the .onnx file at <paramref name="path"/> as a model with <paramref name="threads"/>
    /// worker threads (0: one per core), and the file's metadata_props (with "class_names", the
    /// JSON array model files keep, giving the model's class names), plus "onnx_producer" (the
    /// tool that wrote it) and "imported_from" (the file's name).
    /// </summary>
    /// <exception cref="ModelFormatException">The file cannot be read, is not ONNX, or holds what convnet cannot import; the message names the file (and the node).</exception>
    public static (Sequential Model, IReadOnlyDictionary<string, string> Metadata) Load(string path, int threads = 0)
    {
        var onnx = OnnxModel.ReadFile(path);
        return Read(onnx, path, threads);
    }

    /// <summary>As <see cref="Load"/>, from a model already parsed; <paramref name="source"/> names it in messages.</summary>
    public static (Sequential Model, IReadOnlyDictionary<string, string> Metadata) Read(OnnxModel onnx, string source, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(onnx);
        var graph = onnx.Graph;
        var constants = Constants(graph, source);
        var input = Input(graph, constants, source, out var shape);
        if (graph.Outputs.Count != 1)
        {
            throw new ModelFormatException(source, $"the graph has {graph.Outputs.Count} outputs; convnet imports classifiers with one output");
        }
        string output = graph.Outputs[0].Name;
        var readers = new Dictionary<string, List<int>>();
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            if (graph.Nodes[i].OpType == "Constant")
            {
                continue;
            }
            foreach (string value in graph.Nodes[i].Inputs.Where(v => v.Length > 0 && !constants.ContainsKey(v)).Distinct())
            {
                (readers.TryGetValue(value, out var list) ? list : readers[value] = []).Add(i);
            }
        }
        var model = new Sequential(shape, seed: 0, threads);
        try
        {
            Walk(graph, source, constants, readers, model, input, output);
            if (model.Layers.Count == 0 || model.OutputShape.IsImage || model.OutputShape.Size < 2)
            {
                throw new ModelFormatException(source, $"the graph gives {(model.Layers.Count == 0 ? "its input" : model.OutputShape.ToString())}; convnet imports classifiers that end in a vector of at least 2 class scores");
            }
            if (model.Layers[^1] is not Softmax)
            {
                model.Add(new Softmax());
            }
            var metadata = new Dictionary<string, string>();
            foreach (var (key, value) in onnx.Metadata)
            {
                // What a model file says of itself is written afresh when it is saved; "ensemble" and members' keys would make it another kind of file.
                if (key is not ("format" or "format_version" or "tensors_sha256" or ModelFile.EnsembleKey) && !key.StartsWith("member", StringComparison.Ordinal))
                {
                    metadata[key] = value;
                }
            }
            model.ClassNames = ClassNames(metadata, source, model.Classes);
            metadata["onnx_producer"] = $"{onnx.ProducerName} {onnx.ProducerVersion}".Trim();
            metadata["imported_from"] = Path.GetFileName(source);
            return (model, metadata);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The initializers and Constant nodes' values, by name.</summary>
    private static Dictionary<string, OnnxTensor> Constants(OnnxGraph graph, string source)
    {
        var constants = new Dictionary<string, OnnxTensor>();
        foreach (var tensor in graph.Initializers)
        {
            if (!constants.TryAdd(tensor.Name, tensor))
            {
                throw new ModelFormatException(source, $"two initializers are named '{tensor.Name}'");
            }
        }
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            if (node.OpType == "Constant")
            {
                if (node.Attribute("value")?.Tensor is not { } value || node.Outputs.Count != 1 || !constants.TryAdd(node.Outputs[0], value))
                {
                    throw new ModelFormatException(source, $"node {i} '{node.Name}' (Constant): convnet imports Constant nodes with one tensor 'value' and a name of their own");
                }
            }
        }
        return constants;
    }

    /// <summary>The graph's one image input (inputs that are initializers aside, as older files list them), and its sample shape.</summary>
    private static string Input(OnnxGraph graph, Dictionary<string, OnnxTensor> constants, string source, out Shape shape)
    {
        var inputs = graph.Inputs.Where(i => !constants.ContainsKey(i.Name)).ToList();
        if (inputs.Count != 1)
        {
            throw new ModelFormatException(source, $"the graph has {inputs.Count} inputs; convnet imports one image input [N, C, H, W]");
        }
        var input = inputs[0];
        string dims = input.Shape is null ? "no shape" : $"shape [{string.Join(", ", input.Shape.Select(d => d.Value?.ToString(CultureInfo.InvariantCulture) ?? d.Param ?? "?"))}]";
        if (input.ElementType != OnnxDataType.Float || input.Shape is not { Count: 4 } s
            || s[1].Value is not (1 or 3) || s[2].Value is not (>= 1 and <= MaxImageSide) || s[3].Value is not (>= 1 and <= MaxImageSide))
        {
            throw new ModelFormatException(source, $"input '{input.Name}' is {input.ElementType} with {dims}; convnet imports a float32 image input [N, C, H, W] with C 1 or 3 and sides from 1 to {MaxImageSide}");
        }
        shape = Shape.Image((int)s[2].Value!.Value, (int)s[3].Value!.Value, (int)s[1].Value!.Value);
        return input.Name;
    }

    /// <summary>Follows the chain from <paramref name="value"/> to <paramref name="output"/>, adding a layer for each node that is one.</summary>
    private static void Walk(OnnxGraph graph, string source, Dictionary<string, OnnxTensor> constants, Dictionary<string, List<int>> readers, Sequential model, string value, string output)
    {
        var visited = new bool[graph.Nodes.Count];
        bool channelsLast = false;
        Shape? flattenedChannelsLast = null;
        while (value != output)
        {
            if (!readers.TryGetValue(value, out var next) || next.Count != 1)
            {
                throw new ModelFormatException(source, next is null
                    ? $"value '{value}' leads nowhere: the graph's output '{output}' is not reached from its input along one chain of nodes"
                    : $"value '{value}' feeds {next.Count} nodes ({string.Join(", ", next.Select(i => Describe(graph.Nodes[i], i)))}); convnet imports a chain of layers, without branches");
            }
            int index = next[0];
            var node = graph.Nodes[index];
            if (visited[index])
            {
                throw new ModelFormatException(source, $"{Describe(node, index)} is reached twice: the graph has a cycle");
            }
            if (node.Domain is not ("" or "ai.onnx"))
            {
                throw new ModelFormatException(source, $"{Describe(node, index)}: op of domain '{node.Domain}'; convnet imports ONNX's own ops ({Ops})");
            }
            if (node.Outputs.Count == 0 || node.Inputs.Count == 0 || node.Inputs[0] != value)
            {
                throw new ModelFormatException(source, $"{Describe(node, index)}: convnet imports nodes that read the previous layer's output as their first input");
            }
            visited[index] = true;
            if (node.OpType == "Identity")
            {
                value = node.Outputs[0];
                continue;
            }
            if (node.OpType is "Div" or "Mul" && model.Layers.Count == 0 && !channelsLast)
            {
                CheckInputScaling(node, index, constants, source);
                value = node.Outputs[0];
                continue;
            }
            if (node.OpType == "Transpose")
            {
                var perm = node.Attribute("perm")?.Ints ?? [];
                bool beforeFlatten = readers.TryGetValue(node.Outputs[0], out var after) && after.Count == 1 && graph.Nodes[after[0]].OpType is "Flatten" or "Reshape";
                if (!perm.SequenceEqual([0L, 2, 3, 1]) || !model.OutputShape.IsImage || !beforeFlatten || channelsLast)
                {
                    throw new ModelFormatException(source, $"{Describe(node, index)}: convnet imports a Transpose only to NHWC (perm 0, 2, 3, 1) right before a Flatten");
                }
                channelsLast = true;
                value = node.Outputs[0];
                continue;
            }
            var reader = readers.TryGetValue(node.Outputs[0], out var following) && following.Count == 1 ? graph.Nodes[following[0]] : null;
            var import = new OnnxImportNode(source, node, index, model.OutputShape, constants, reader) { FlattenedChannelsLast = flattenedChannelsLast };
            var layer = LayerRegistry.FromOnnx(import)
                ?? throw import.Refuse($"unsupported op '{node.OpType}'; convnet imports {Ops}");
            if (layer.Nodes == 2)
            {
                visited[following![0]] = true;
                node = reader!;
            }
            if (channelsLast)
            {
                // The Transpose's image, now a vector in (H, W, C) order.
                flattenedChannelsLast = model.OutputShape;
                channelsLast = false;
            }
            else if (layer.Layer is Dense)
            {
                flattenedChannelsLast = null;
            }
            if (layer.Layer is { } added)
            {
                Add(model, added, layer.Tensors, import);
            }
            value = node.Outputs[0];
        }
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            if (!visited[i] && graph.Nodes[i].OpType != "Constant")
            {
                throw new ModelFormatException(source, $"{Describe(graph.Nodes[i], i)} is not on the chain from the input to the output; convnet imports a chain of layers");
            }
        }
    }

    /// <summary>Adds <paramref name="layer"/> to <paramref name="model"/> with <paramref name="tensors"/>, each checked against what the layer declares.</summary>
    private static void Add(Sequential model, Layer layer, float[][] tensors, OnnxImportNode node)
    {
        try
        {
            // Checked before the layer allocates anything: its sizes come from weights the file holds.
            var declared = layer.DeclareTensors(model.OutputShape);
            if (declared.Count != tensors.Length || declared.Zip(tensors).Any(p => p.First.Length != p.Second.Length))
            {
                throw node.Refuse($"its weights hold [{string.Join(", ", tensors.Select(t => t.Length))}] values where {layer.TypeName} needs [{string.Join(", ", declared.Select(d => d.Length))}]");
            }
            model.Add(layer);
        }
        catch (ArgumentException e) when (e is not ModelTooLargeException)
        {
            throw node.Refuse(e.Message.Split(" (Parameter", 2)[0]);
        }
        layer.LoadOwnTensors(tensors);
    }

    /// <summary>
    /// Our export's first node: Div of the pixels by the float scalar 255 (what our data path does to
    /// each byte), or the same as Mul by 1/255.
    /// </summary>
    private static void CheckInputScaling(OnnxNode node, int index, Dictionary<string, OnnxTensor> constants, string source)
    {
        float expected = node.OpType == "Div" ? 255f : 1f / 255f;
        bool scale = node.Inputs.Count == 2 && constants.TryGetValue(node.Inputs[1], out var factor)
            && factor.DataType == OnnxDataType.Float && factor.Floats is [var f] && f == expected;
        if (!scale)
        {
            throw new ModelFormatException(source, $"{Describe(node, index)}: convnet imports a {node.OpType} at the input only by the scalar {(node.OpType == "Div" ? "255" : "1/255")} (its own export's scaling of 0-255 pixels)");
        }
    }

    /// <summary>"node 3 'name' (Conv)".</summary>
    private static string Describe(OnnxNode node, int index) =>
        string.Create(CultureInfo.InvariantCulture, $"node {index}{(node.Name.Length > 0 ? $" '{node.Name}'" : "")} ({node.OpType})");

    /// <summary>The class names of the metadata's "class_names" (a JSON array of strings), or null when absent.</summary>
    private static IReadOnlyList<string>? ClassNames(Dictionary<string, string> metadata, string source, int classes)
    {
        if (!metadata.TryGetValue(ModelFile.ClassNamesKey, out var text))
        {
            return null;
        }
        var names = new List<string>();
        try
        {
            using var json = JsonDocument.Parse(text);
            if (json.RootElement.ValueKind != JsonValueKind.Array || json.RootElement.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
            {
                throw new ModelFormatException(source, $"metadata {ModelFile.ClassNamesKey} is not a JSON array of class names");
            }
            names.AddRange(json.RootElement.EnumerateArray().Select(e => e.GetString()!));
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(source, $"metadata {ModelFile.ClassNamesKey} is not a JSON array of class names: {e.Message}", e);
        }
        if (names.Count != classes)
        {
            throw new ModelFormatException(source, $"metadata {ModelFile.ClassNamesKey} names {names.Count} classes but the model scores {classes}");
        }
        try
        {
            Dataset.CheckClassNames(names, ModelFile.ClassNamesKey);
        }
        catch (ArgumentException e)
        {
            throw new ModelFormatException(source, $"invalid {ModelFile.ClassNamesKey}: {e.Message.Split(" (Parameter", 2)[0]}", e);
        }
        return names;
    }
}
