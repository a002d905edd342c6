using System.Globalization;
using Convnet.IO;
using Convnet.IO.Onnx;
using Convnet.Tensors;

namespace Convnet.Layers;

/// <summary>
/// What a layer kind makes of an ONNX node (<see cref="ILayerKind.FromOnnx"/>): the layer, or null
/// for a node that changes nothing here (e.g. Flatten of what is already a vector); its tensors in
/// <see cref="Layer.DeclareTensors"/>'s order and layouts, for <see cref="Layer.LoadOwnTensors"/>;
/// and how many nodes of the chain it took (MatMul then Add: 2).
/// </summary>
public sealed record OnnxLayer(Layer? Layer, float[][] Tensors, int Nodes = 1);

/// <summary>
/// One node of an ONNX graph as the import's walk from the input to the output meets it: the node,
/// the shape of the value it reads in our terms (an image (H, W, C) or a vector), its settings and
/// the graph's constants, with checks that refuse what our layers cannot do as a
/// <see cref="ModelFormatException"/> naming the file, the node and its op.
/// </summary>
public sealed class OnnxImportNode
{
    private readonly string _source;
    private readonly IReadOnlyDictionary<string, OnnxTensor> _constants;

    /// <param name="source">The file, for messages.</param>
    /// <param name="node">The node.</param>
    /// <param name="index">Its position in the graph's node list (from 0), for messages.</param>
    /// <param name="input">The shape of one sample of the value it reads.</param>
    /// <param name="constants">The graph's initializers and Constant nodes' values, by name.</param>
    /// <param name="next">The one node that reads this node's output, or null.</param>
    public OnnxImportNode(string source, OnnxNode node, int index, Shape input, IReadOnlyDictionary<string, OnnxTensor> constants, OnnxNode? next)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(constants);
        (_source, Node, Index, Input, _constants, Next) = (source, node, index, input, constants, next);
    }

    /// <summary>The node.</summary>
    public OnnxNode Node { get; }
    /// <summary>Its position in the graph's node list (from 0).</summary>
    public int Index { get; }
    /// <summary>The node's op, e.g. "Conv".</summary>
    public string OpType => Node.OpType;
    /// <summary>The shape of one sample of the value the node reads (our channels-last terms).</summary>
    public Shape Input { get; }
    /// <summary>The one node reading this node's output, or null (for ops that span two nodes, as MatMul then Add).</summary>
    public OnnxNode? Next { get; }

    /// <summary>
    /// Set when <see cref="Input"/> is a vector flattened in (H, W, C) order from an image of this
    /// shape (a Transpose to NHWC before the Flatten); null for ONNX's usual (C, H, W) order, which is
    /// our Flatten's.
    /// </summary>
    public Shape? FlattenedChannelsLast { get; init; }

    /// <summary>The error for what our layers cannot do: "FILE: node 3 'name' (Conv): PROBLEM".</summary>
    public ModelFormatException Refuse(string problem) => Refuse(Node, Index, problem);

    private ModelFormatException Refuse(OnnxNode node, int index, string problem)
    {
        string name = node.Name.Length > 0 ? $" '{node.Name}'" : "";
        return new ModelFormatException(_source, string.Create(CultureInfo.InvariantCulture, $"node {index}{name} ({node.OpType}): {problem}"));
    }

    /// <summary>The INT attribute <paramref name="name"/>, or <paramref name="fallback"/> when absent.</summary>
    public long Int(string name, long fallback) => Node.Attribute(name) switch
    {
        null => fallback,
        { Type: OnnxAttributeType.Int } a => a.Int,
        _ => throw Refuse($"attribute '{name}' is not an integer"),
    };

    /// <summary>The FLOAT attribute <paramref name="name"/>, or <paramref name="fallback"/> when absent.</summary>
    public float Float(string name, float fallback) => Node.Attribute(name) switch
    {
        null => fallback,
        { Type: OnnxAttributeType.Float } a => a.Float,
        _ => throw Refuse($"attribute '{name}' is not a float"),
    };

    /// <summary>The INTS attribute <paramref name="name"/>, or <paramref name="fallback"/> when absent.</summary>
    public long[] Ints(string name, long[] fallback) => Node.Attribute(name) switch
    {
        null => fallback,
        { Type: OnnxAttributeType.Ints } a => a.Ints,
        _ => throw Refuse($"attribute '{name}' is not a list of integers"),
    };

    /// <summary>The STRING attribute <paramref name="name"/>, or <paramref name="fallback"/> when absent.</summary>
    public string Text(string name, string fallback) => Node.Attribute(name) switch
    {
        null => fallback,
        { Type: OnnxAttributeType.String } a => a.String,
        _ => throw Refuse($"attribute '{name}' is not a string"),
    };

    /// <summary>Whether input <paramref name="input"/> of the node is given (optional inputs may be absent or "").</summary>
    public bool Has(int input) => input < Node.Inputs.Count && Node.Inputs[input].Length > 0;

    /// <summary>The constant at input <paramref name="input"/> of the node (an initializer or a Constant node's value).</summary>
    public OnnxTensor Constant(int input) => Constant(Node, Index, input);

    /// <summary>The constant at input <paramref name="input"/> of <see cref="Next"/> (whose index is <see cref="Index"/> + 1 in messages).</summary>
    public OnnxTensor NextConstant(int input) => Constant(Next ?? throw new InvalidOperationException("No next node."), Index + 1, input);

    private OnnxTensor Constant(OnnxNode node, int index, int input)
    {
        if (input >= node.Inputs.Count || node.Inputs[input].Length == 0)
        {
            throw Refuse(node, index, $"input {input + 1} is missing");
        }
        string name = node.Inputs[input];
        return _constants.TryGetValue(name, out var tensor) ? tensor
            : throw Refuse(node, index, $"input {input + 1} '{name}' must be a constant (an initializer); convnet imports weights, not computed values");
    }

    /// <summary>
    /// The float values of input <paramref name="input"/>, a constant of exactly <paramref name="dims"/>
    /// (row-major, as the file holds them).
    /// </summary>
    public float[] Weight(int input, params long[] dims) => Floats(Node, Index, Constant(input), dims);

    /// <summary>The float values of <see cref="Next"/>'s input <paramref name="input"/>, a constant of exactly <paramref name="dims"/>.</summary>
    public float[] NextWeight(int input, params long[] dims) => Floats(Next!, Index + 1, NextConstant(input), dims);

    /// <summary>The values of a float constant of exactly <paramref name="dims"/>; its own dims otherwise must hold as many values (e.g. a bias [1, F]).</summary>
    private float[] Floats(OnnxNode node, int index, OnnxTensor tensor, long[] dims)
    {
        string shape = $"[{string.Join(", ", tensor.Dims)}]";
        if (tensor.DataType != OnnxDataType.Float)
        {
            throw Refuse(node, index, $"'{tensor.Name}' holds {tensor.DataType} values; convnet imports float32 weights");
        }
        long expected = dims.Aggregate(1L, (a, b) => a * b);
        bool sameDims = tensor.Dims.SequenceEqual(dims);
        // A bias may come as [1, F] or [F]: the same values.
        bool sameVector = dims.Length == 1 && tensor.ElementCount == expected && tensor.Dims.Count(d => d != 1) <= 1;
        if (!sameDims && !sameVector)
        {
            throw Refuse(node, index, $"'{tensor.Name}' has shape {shape}, the layer needs [{string.Join(", ", dims)}]");
        }
        if (tensor.Floats.Length != expected)
        {
            throw Refuse(node, index, $"'{tensor.Name}' declares {shape} but holds {tensor.Floats.Length} values (data in an external file is not supported)");
        }
        return tensor.Floats;
    }

    /// <summary>
    /// The square window and stride of a convolution or pooling node (attributes kernel_shape,
    /// strides; dilations must be 1), given its kernel side when the weights already say it.
    /// </summary>
    public (int Kernel, int Stride) Window(int? kernel = null)
    {
        long[] shape = Ints("kernel_shape", kernel is { } k ? [k, k] : []);
        if (shape.Length != 2 || shape[0] != shape[1] || shape[0] < 1 || shape[0] > int.MaxValue || kernel is { } known && shape[0] != known)
        {
            throw Refuse($"kernel_shape [{string.Join(", ", shape)}]: convnet imports square 2-D windows");
        }
        long[] strides = Ints("strides", [1, 1]);
        if (strides.Length != 2 || strides[0] != strides[1] || strides[0] < 1 || strides[0] > int.MaxValue)
        {
            throw Refuse($"strides [{string.Join(", ", strides)}]: convnet imports one stride for both directions");
        }
        if (Ints("dilations", [1, 1]).Any(d => d != 1))
        {
            throw Refuse("dilations other than 1 are not supported");
        }
        return ((int)shape[0], (int)strides[0]);
    }

    /// <summary>
    /// The padding of a convolution: none (valid), or Keras's "same" (the odd pixel at the bottom and
    /// right, ONNX's auto_pad SAME_UPPER, or those pads written out); anything else is refused.
    /// </summary>
    public Padding ConvPadding(int kernel, int stride)
    {
        string auto = Text("auto_pad", "NOTSET");
        var g = Kernels.ConvGeometry.Create(Input.Height, Input.Width, Input.Channels, kernel, stride, same: true);
        long bottom = Math.Max((g.OutHeight - 1) * stride + kernel - Input.Height, 0) - g.PadTop;
        long right = Math.Max((g.OutWidth - 1) * stride + kernel - Input.Width, 0) - g.PadLeft;
        long[] same = [g.PadTop, g.PadLeft, bottom, right];
        switch (auto)
        {
            case "VALID":
                return Padding.Valid;
            case "SAME_UPPER":
                return Padding.Same;
            case "NOTSET" or "":
                long[] pads = Ints("pads", [0, 0, 0, 0]);
                if (pads.All(p => p == 0))
                {
                    return Padding.Valid;
                }
                if (pads.SequenceEqual(same))
                {
                    return Padding.Same;
                }
                throw Refuse($"pads [{string.Join(", ", pads)}] (top, left, bottom, right): convnet pads none or as Keras's 'same', here [{string.Join(", ", same)}]");
            default:
                throw Refuse($"auto_pad {auto}: convnet pads as SAME_UPPER (Keras's 'same') or not at all");
        }
    }
}
