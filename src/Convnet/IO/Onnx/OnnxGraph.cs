namespace Convnet.IO.Onnx;

/// <summary>
/// ONNX's GraphProto (node = 1, name = 2, initializer = 5, input = 11, output = 12,
/// value_info = 13): the nodes in topological order, the constant tensors they read, and the
/// graph's inputs and outputs.
/// </summary>
public sealed class OnnxGraph
{
    /// <summary>The nodes, each reading only graph inputs, initializers and earlier nodes' outputs.</summary>
    public List<OnnxNode> Nodes { get; } = [];
    /// <summary>The graph's name.</summary>
    public string Name { get; set; } = "";
    /// <summary>Constant tensors (weights), found by name.</summary>
    public List<OnnxTensor> Initializers { get; } = [];
    /// <summary>The values the caller feeds (files from older exporters also list initializers here).</summary>
    public List<OnnxValueInfo> Inputs { get; } = [];
    /// <summary>The values the graph returns.</summary>
    public List<OnnxValueInfo> Outputs { get; } = [];
    /// <summary>Types of intermediate values, when given.</summary>
    public List<OnnxValueInfo> ValueInfos { get; } = [];

    /// <summary>The initializer named <paramref name="name"/>, or null.</summary>
    public OnnxTensor? Initializer(string name) => Initializers.Find(t => t.Name == name);

    /// <summary>The protobuf bytes of this message alone.</summary>
    public byte[] ToBytes()
    {
        var w = new ProtoWriter();
        WriteTo(w);
        return w.ToArray();
    }

    /// <summary>Reads one GraphProto message; errors name <paramref name="source"/>.</summary>
    public static OnnxGraph Parse(ReadOnlySpan<byte> bytes, string source) => ReadFrom(new ProtoReader(bytes, source));

    internal void WriteTo(ProtoWriter w)
    {
        foreach (var node in Nodes)
        {
            var n = new ProtoWriter();
            node.WriteTo(n);
            w.WriteMessage(1, n);
        }
        w.WriteString(2, Name);
        foreach (var tensor in Initializers)
        {
            var t = new ProtoWriter();
            tensor.WriteTo(t);
            w.WriteMessage(5, t);
        }
        WriteValueInfos(w, 11, Inputs);
        WriteValueInfos(w, 12, Outputs);
        WriteValueInfos(w, 13, ValueInfos);
    }

    private static void WriteValueInfos(ProtoWriter w, int field, List<OnnxValueInfo> infos)
    {
        foreach (var info in infos)
        {
            var v = new ProtoWriter();
            info.WriteTo(v);
            w.WriteMessage(field, v);
        }
    }

    internal static OnnxGraph ReadFrom(ProtoReader r)
    {
        var graph = new OnnxGraph();
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "GraphProto.node");
                    graph.Nodes.Add(OnnxNode.ReadFrom(r.ReadMessage()));
                    break;
                case 2:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "GraphProto.name");
                    graph.Name = r.ReadString();
                    break;
                case 5:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "GraphProto.initializer");
                    graph.Initializers.Add(OnnxTensor.ReadFrom(r.ReadMessage()));
                    break;
                case 11:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "GraphProto.input");
                    graph.Inputs.Add(OnnxValueInfo.ReadFrom(r.ReadMessage()));
                    break;
                case 12:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "GraphProto.output");
                    graph.Outputs.Add(OnnxValueInfo.ReadFrom(r.ReadMessage()));
                    break;
                case 13:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "GraphProto.value_info");
                    graph.ValueInfos.Add(OnnxValueInfo.ReadFrom(r.ReadMessage()));
                    break;
                default:
                    r.Skip(wire);
                    break;
            }
        }
        return graph;
    }
}
