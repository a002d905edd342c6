namespace Convnet.IO.Onnx;

/// <summary>
/// ONNX's NodeProto (input = 1, output = 2, name = 3, op_type = 4, attribute = 5, domain = 7):
/// one operator call, reading and writing values by name.
/// </summary>
public sealed class OnnxNode
{
    /// <summary>The names of the values it reads, in the operator's order ("" for an omitted optional input).</summary>
    public List<string> Inputs { get; } = [];
    /// <summary>The names of the values it writes.</summary>
    public List<string> Outputs { get; } = [];
    /// <summary>The node's name, unique in its graph (may be empty in files from elsewhere).</summary>
    public string Name { get; set; } = "";
    /// <summary>The operator, e.g. "Conv".</summary>
    public string OpType { get; set; } = "";
    /// <summary>The operator set's domain; "" is the default ONNX domain.</summary>
    public string Domain { get; set; } = "";
    /// <summary>The operator's settings.</summary>
    public List<OnnxAttribute> Attributes { get; } = [];

    /// <summary>The attribute named <paramref name="name"/>, or null.</summary>
    public OnnxAttribute? Attribute(string name) => Attributes.Find(a => a.Name == name);

    /// <summary>The protobuf bytes of this message alone.</summary>
    public byte[] ToBytes()
    {
        var w = new ProtoWriter();
        WriteTo(w);
        return w.ToArray();
    }

    /// <summary>Reads one NodeProto message; errors name <paramref name="source"/>.</summary>
    public static OnnxNode Parse(ReadOnlySpan<byte> bytes, string source) => ReadFrom(new ProtoReader(bytes, source));

    internal void WriteTo(ProtoWriter w)
    {
        foreach (string input in Inputs)
        {
            w.WriteString(1, input);
        }
        foreach (string output in Outputs)
        {
            w.WriteString(2, output);
        }
        w.WriteString(3, Name);
        w.WriteString(4, OpType);
        foreach (var attribute in Attributes)
        {
            var a = new ProtoWriter();
            attribute.WriteTo(a);
            w.WriteMessage(5, a);
        }
        if (Domain.Length > 0)
        {
            w.WriteString(7, Domain);
        }
    }

    internal static OnnxNode ReadFrom(ProtoReader r)
    {
        var node = new OnnxNode();
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "NodeProto.input");
                    node.Inputs.Add(r.ReadString());
                    break;
                case 2:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "NodeProto.output");
                    node.Outputs.Add(r.ReadString());
                    break;
                case 3:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "NodeProto.name");
                    node.Name = r.ReadString();
                    break;
                case 4:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "NodeProto.op_type");
                    node.OpType = r.ReadString();
                    break;
                case 5:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "NodeProto.attribute");
                    node.Attributes.Add(OnnxAttribute.ReadFrom(r.ReadMessage()));
                    break;
                case 7:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "NodeProto.domain");
                    node.Domain = r.ReadString();
                    break;
                default:
                    r.Skip(wire);
                    break;
            }
        }
        return node;
    }
}
