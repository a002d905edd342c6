namespace Convnet.IO.Onnx;

/// <summary>ONNX's AttributeProto.AttributeType values (onnx.proto).</summary>
public enum OnnxAttributeType
{
    /// <summary>Not set.</summary>
    Undefined = 0,
    /// <summary><see cref="OnnxAttribute.Float"/> holds the value.</summary>
    Float = 1,
    /// <summary><see cref="OnnxAttribute.Int"/> holds the value.</summary>
    Int = 2,
    /// <summary><see cref="OnnxAttribute.String"/> holds the value.</summary>
    String = 3,
    /// <summary><see cref="OnnxAttribute.Tensor"/> holds the value.</summary>
    Tensor = 4,
    /// <summary>A subgraph (not read).</summary>
    Graph = 5,
    /// <summary><see cref="OnnxAttribute.Floats"/> holds the values.</summary>
    Floats = 6,
    /// <summary><see cref="OnnxAttribute.Ints"/> holds the values.</summary>
    Ints = 7,
    /// <summary><see cref="OnnxAttribute.Strings"/> holds the values.</summary>
    Strings = 8,
}

/// <summary>
/// ONNX's AttributeProto (name = 1, f = 2, i = 3, s = 4, t = 5, floats = 7, ints = 8,
/// strings = 9, type = 20): one named setting of a node, e.g. Conv's <c>strides</c>.
/// </summary>
public sealed class OnnxAttribute
{
    /// <summary>The attribute's name, e.g. "kernel_shape".</summary>
    public string Name { get; set; } = "";
    /// <summary>Which value field is in use.</summary>
    public OnnxAttributeType Type { get; set; }
    /// <summary>The value of a FLOAT attribute.</summary>
    public float Float { get; set; }
    /// <summary>The value of an INT attribute.</summary>
    public long Int { get; set; }
    /// <summary>The value of a STRING attribute (UTF-8).</summary>
    public string String { get; set; } = "";
    /// <summary>The value of a TENSOR attribute (e.g. Constant's value).</summary>
    public OnnxTensor? Tensor { get; set; }
    /// <summary>The values of a FLOATS attribute.</summary>
    public float[] Floats { get; set; } = [];
    /// <summary>The values of an INTS attribute.</summary>
    public long[] Ints { get; set; } = [];
    /// <summary>The values of a STRINGS attribute.</summary>
    public string[] Strings { get; set; } = [];

    /// <summary>An INT attribute.</summary>
    public static OnnxAttribute Of(string name, long value) => new() { Name = name, Type = OnnxAttributeType.Int, Int = value };
    /// <summary>A FLOAT attribute.</summary>
    public static OnnxAttribute Of(string name, float value) => new() { Name = name, Type = OnnxAttributeType.Float, Float = value };
    /// <summary>A STRING attribute.</summary>
    public static OnnxAttribute Of(string name, string value) => new() { Name = name, Type = OnnxAttributeType.String, String = value };
    /// <summary>An INTS attribute.</summary>
    public static OnnxAttribute Of(string name, params long[] values) => new() { Name = name, Type = OnnxAttributeType.Ints, Ints = values };
    /// <summary>A FLOATS attribute.</summary>
    public static OnnxAttribute Of(string name, params float[] values) => new() { Name = name, Type = OnnxAttributeType.Floats, Floats = values };
    /// <summary>A TENSOR attribute.</summary>
    public static OnnxAttribute Of(string name, OnnxTensor value) => new() { Name = name, Type = OnnxAttributeType.Tensor, Tensor = value };

    /// <summary>The protobuf bytes of this message alone.</summary>
    public byte[] ToBytes()
    {
        var w = new ProtoWriter();
        WriteTo(w);
        return w.ToArray();
    }

    /// <summary>Reads one AttributeProto message; errors name <paramref name="source"/>.</summary>
    public static OnnxAttribute Parse(ReadOnlySpan<byte> bytes, string source) => ReadFrom(new ProtoReader(bytes, source));

    // Only the field the type names is written (AttributeProto holds exactly one); repeated
    // scalars unpacked, as onnx.proto (proto2, no [packed]) declares them.
    internal void WriteTo(ProtoWriter w)
    {
        w.WriteString(1, Name);
        switch (Type)
        {
            case OnnxAttributeType.Float:
                w.WriteFloat(2, Float);
                break;
            case OnnxAttributeType.Int:
                w.WriteInt64(3, Int);
                break;
            case OnnxAttributeType.String:
                w.WriteString(4, String);
                break;
            case OnnxAttributeType.Tensor:
                var tensor = new ProtoWriter();
                (Tensor ?? throw new InvalidOperationException($"Attribute '{Name}' is of type TENSOR but has no tensor.")).WriteTo(tensor);
                w.WriteMessage(5, tensor);
                break;
            case OnnxAttributeType.Floats:
                foreach (float f in Floats)
                {
                    w.WriteFloat(7, f);
                }
                break;
            case OnnxAttributeType.Ints:
                foreach (long i in Ints)
                {
                    w.WriteInt64(8, i);
                }
                break;
            case OnnxAttributeType.Strings:
                foreach (string s in Strings)
                {
                    w.WriteString(9, s);
                }
                break;
            default:
                throw new InvalidOperationException($"Attribute '{Name}' has type {Type}, which cannot be written.");
        }
        w.WriteInt64(20, (long)Type);
    }

    internal static OnnxAttribute ReadFrom(ProtoReader r)
    {
        var a = new OnnxAttribute();
        var floats = new List<float>();
        var ints = new List<long>();
        var strings = new List<string>();
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "AttributeProto.name");
                    a.Name = r.ReadString();
                    break;
                case 2:
                    r.ExpectWireType(wire, WireType.Fixed32, "AttributeProto.f");
                    a.Float = r.ReadFloat();
                    break;
                case 3:
                    r.ExpectWireType(wire, WireType.Varint, "AttributeProto.i");
                    a.Int = r.ReadInt64();
                    break;
                case 4:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "AttributeProto.s");
                    a.String = r.ReadString();
                    break;
                case 5:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "AttributeProto.t");
                    a.Tensor = OnnxTensor.ReadFrom(r.ReadMessage());
                    break;
                case 7:
                    r.ReadRepeatedFloat(wire, floats);
                    break;
                case 8:
                    r.ReadRepeatedInt64(wire, ints);
                    break;
                case 9:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "AttributeProto.strings");
                    strings.Add(r.ReadString());
                    break;
                case 20:
                    r.ExpectWireType(wire, WireType.Varint, "AttributeProto.type");
                    a.Type = (OnnxAttributeType)r.ReadInt32();
                    break;
                default:
                    r.Skip(wire);
                    break;
            }
        }
        a.Floats = [.. floats];
        a.Ints = [.. ints];
        a.Strings = [.. strings];
        return a;
    }
}
