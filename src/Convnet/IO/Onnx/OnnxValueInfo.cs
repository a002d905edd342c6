namespace Convnet.IO.Onnx;

/// <summary>One dimension of a tensor type: a fixed size, a symbolic name (e.g. "N" for the batch), or neither (unknown).</summary>
/// <param name="Value">The size when fixed, else null.</param>
/// <param name="Param">The symbolic name when there is one, else null.</param>
public sealed record OnnxDimension(long? Value, string? Param)
{
    /// <summary>A dimension of fixed size.</summary>
    public static OnnxDimension Of(long value) => new(value, null);

    /// <summary>A symbolic dimension, e.g. the batch "N".</summary>
    public static OnnxDimension Symbolic(string name) => new(null, name);
}

/// <summary>
/// ONNX's ValueInfoProto (name = 1, type = 2) with its TypeProto (tensor_type = 1) folded in:
/// TypeProto.Tensor (elem_type = 1, shape = 2), TensorShapeProto (dim = 1) and its Dimension
/// (dim_value = 1, dim_param = 2). A graph's inputs and outputs.
/// </summary>
public sealed class OnnxValueInfo
{
    /// <summary>The value's name.</summary>
    public string Name { get; set; } = "";
    /// <summary>The element type of a tensor value; <see cref="OnnxDataType.Undefined"/> when the type is not a tensor or not given.</summary>
    public OnnxDataType ElementType { get; set; }
    /// <summary>The tensor's dimensions, or null when its shape (even its rank) is not given.</summary>
    public List<OnnxDimension>? Shape { get; set; }

    /// <summary>The protobuf bytes of this message alone.</summary>
    public byte[] ToBytes()
    {
        var w = new ProtoWriter();
        WriteTo(w);
        return w.ToArray();
    }

    /// <summary>Reads one ValueInfoProto message; errors name <paramref name="source"/>.</summary>
    public static OnnxValueInfo Parse(ReadOnlySpan<byte> bytes, string source) => ReadFrom(new ProtoReader(bytes, source));

    internal void WriteTo(ProtoWriter w)
    {
        w.WriteString(1, Name);
        var tensorType = new ProtoWriter();
        tensorType.WriteInt64(1, (long)ElementType);
        if (Shape is not null)
        {
            var shape = new ProtoWriter();
            foreach (var dim in Shape)
            {
                var d = new ProtoWriter();
                if (dim.Value is long value)
                {
                    d.WriteInt64(1, value);
                }
                else if (dim.Param is string param)
                {
                    d.WriteString(2, param);
                }
                shape.WriteMessage(1, d);
            }
            tensorType.WriteMessage(2, shape);
        }
        var type = new ProtoWriter();
        type.WriteMessage(1, tensorType);
        w.WriteMessage(2, type);
    }

    internal static OnnxValueInfo ReadFrom(ProtoReader r)
    {
        var info = new OnnxValueInfo();
        while (r.TryReadTag(out int field, out var wire))
        {
            if (field == 1)
            {
                r.ExpectWireType(wire, WireType.LengthDelimited, "ValueInfoProto.name");
                info.Name = r.ReadString();
            }
            else if (field == 2)
            {
                r.ExpectWireType(wire, WireType.LengthDelimited, "ValueInfoProto.type");
                ReadType(r.ReadMessage(), info);
            }
            else
            {
                r.Skip(wire);
            }
        }
        return info;
    }

    // TypeProto: only tensor_type (1); sequences, maps and the rest are skipped, leaving the element type undefined.
    private static void ReadType(ProtoReader r, OnnxValueInfo info)
    {
        while (r.TryReadTag(out int field, out var wire))
        {
            if (field != 1)
            {
                r.Skip(wire);
                continue;
            }
            r.ExpectWireType(wire, WireType.LengthDelimited, "TypeProto.tensor_type");
            var tensor = r.ReadMessage();
            while (tensor.TryReadTag(out int tf, out var tw))
            {
                if (tf == 1)
                {
                    tensor.ExpectWireType(tw, WireType.Varint, "TypeProto.Tensor.elem_type");
                    info.ElementType = (OnnxDataType)tensor.ReadInt32();
                }
                else if (tf == 2)
                {
                    tensor.ExpectWireType(tw, WireType.LengthDelimited, "TypeProto.Tensor.shape");
                    info.Shape = ReadShape(tensor.ReadMessage());
                }
                else
                {
                    tensor.Skip(tw);
                }
            }
        }
    }

    private static List<OnnxDimension> ReadShape(ProtoReader r)
    {
        var dims = new List<OnnxDimension>();
        while (r.TryReadTag(out int field, out var wire))
        {
            if (field != 1)
            {
                r.Skip(wire);
                continue;
            }
            r.ExpectWireType(wire, WireType.LengthDelimited, "TensorShapeProto.dim");
            var d = r.ReadMessage();
            long? value = null;
            string? param = null;
            while (d.TryReadTag(out int df, out var dw))
            {
                if (df == 1)
                {
                    d.ExpectWireType(dw, WireType.Varint, "Dimension.dim_value");
                    value = d.ReadInt64();
                }
                else if (df == 2)
                {
                    d.ExpectWireType(dw, WireType.LengthDelimited, "Dimension.dim_param");
                    param = d.ReadString();
                }
                else
                {
                    d.Skip(dw);
                }
            }
            dims.Add(new OnnxDimension(value, param));
        }
        return dims;
    }
}
