namespace Convnet.IO.Onnx;

/// <summary>
/// What layers write their ONNX nodes into: unique value, node and initializer names under the
/// current <see cref="Prefix"/> (e.g. "member0/" for an ensemble member), nodes in the order
/// added (a layer adds its nodes after those of the layers before it, so the order is topological).
/// </summary>
public sealed class OnnxGraphBuilder
{
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <summary>A builder of an empty graph named <paramref name="graphName"/>.</summary>
    public OnnxGraphBuilder(string graphName)
    {
        ArgumentNullException.ThrowIfNull(graphName);
        Graph = new OnnxGraph { Name = graphName };
    }

    /// <summary>The graph built so far.</summary>
    public OnnxGraph Graph { get; }

    /// <summary>Put before every name <see cref="UniqueName"/> gives, e.g. "member0/"; "" by default.</summary>
    public string Prefix { get; set; } = "";

    /// <summary>
    /// <see cref="Prefix"/> + <paramref name="hint"/> if no value, node or initializer has that name
    /// yet, else the same with the first free "_1", "_2", ... after it; the name is then taken.
    /// </summary>
    public string UniqueName(string hint)
    {
        ArgumentException.ThrowIfNullOrEmpty(hint);
        string stem = Prefix + hint;
        string name = stem;
        for (int i = 1; !_names.Add(name); i++)
        {
            name = $"{stem}_{i}";
        }
        return name;
    }

    /// <summary>Declares a graph input of <paramref name="elementType"/> and <paramref name="shape"/>; <paramref name="name"/> is used as given (it must be free).</summary>
    public string AddInput(string name, OnnxDataType elementType, params OnnxDimension[] shape)
    {
        Reserve(name);
        Graph.Inputs.Add(new OnnxValueInfo { Name = name, ElementType = elementType, Shape = [.. shape] });
        return name;
    }

    /// <summary>
    /// Declares a graph output of <paramref name="elementType"/> and <paramref name="shape"/>; the
    /// value must be written by a node under exactly <paramref name="name"/>, reserved here.
    /// </summary>
    public string AddOutput(string name, OnnxDataType elementType, params OnnxDimension[] shape)
    {
        Reserve(name);
        Graph.Outputs.Add(new OnnxValueInfo { Name = name, ElementType = elementType, Shape = [.. shape] });
        return name;
    }

    /// <summary>
    /// Adds a node running <paramref name="opType"/> (default ONNX domain) from
    /// <paramref name="inputs"/> to <paramref name="outputs"/> (value names, taken as given: get
    /// fresh ones from <see cref="UniqueName"/>; any other output name is taken from then on); its
    /// node name is a unique one after the op.
    /// </summary>
    public OnnxNode AddNode(string opType, string[] inputs, string[] outputs, params OnnxAttribute[] attributes)
    {
        ArgumentException.ThrowIfNullOrEmpty(opType);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(attributes);
        var node = new OnnxNode { OpType = opType, Name = UniqueName(opType) };
        node.Inputs.AddRange(inputs);
        node.Outputs.AddRange(outputs);
        _names.UnionWith(outputs);
        node.Attributes.AddRange(attributes);
        Graph.Nodes.Add(node);
        return node;
    }

    /// <summary>
    /// Adds a node with one output whose value gets a unique name after <paramref name="outputHint"/>;
    /// returns that name.
    /// </summary>
    public string AddNode(string opType, string[] inputs, string outputHint, params OnnxAttribute[] attributes)
    {
        string output = UniqueName(outputHint);
        AddNode(opType, inputs, [output], attributes);
        return output;
    }

    /// <summary>Adds a FLOAT initializer under a unique name after <paramref name="name"/>; returns that name.</summary>
    public string AddInitializer(string name, long[] dims, float[] values)
    {
        string unique = UniqueName(name);
        Graph.Initializers.Add(OnnxTensor.FromFloats(unique, dims, values));
        return unique;
    }

    /// <summary>Adds an INT64 initializer under a unique name after <paramref name="name"/>; returns that name.</summary>
    public string AddInitializer(string name, long[] dims, long[] values)
    {
        string unique = UniqueName(name);
        Graph.Initializers.Add(OnnxTensor.FromInt64s(unique, dims, values));
        return unique;
    }

    private void Reserve(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!_names.Add(name))
        {
            throw new ArgumentException($"The name '{name}' is already taken in this graph.", nameof(name));
        }
    }
}
