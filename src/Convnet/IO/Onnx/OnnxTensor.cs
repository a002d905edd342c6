using System.Buffers.Binary;
using System.Globalization;

namespace Convnet.IO.Onnx;

/// <summary>ONNX's TensorProto.DataType values we meet (onnx.proto).</summary>
public enum OnnxDataType
{
    /// <summary>Not set.</summary>
    Undefined = 0,
    /// <summary>32-bit IEEE float.</summary>
    Float = 1,
    /// <summary>Unsigned byte.</summary>
    UInt8 = 2,
    /// <summary>Signed byte.</summary>
    Int8 = 3,
    /// <summary>32-bit signed integer.</summary>
    Int32 = 6,
    /// <summary>64-bit signed integer.</summary>
    Int64 = 7,
    /// <summary>UTF-8 string.</summary>
    String = 8,
    /// <summary>Boolean.</summary>
    Bool = 9,
    /// <summary>16-bit IEEE float.</summary>
    Float16 = 10,
    /// <summary>64-bit IEEE float.</summary>
    Double = 11,
}

/// <summary>
/// ONNX's TensorProto (dims = 1, data_type = 2, float_data = 4, int64_data = 7, name = 8,
/// raw_data = 9, data_location = 14): a named constant, e.g. a weight. We hold FLOAT and INT64
/// tensors' values (read from raw_data, little-endian, or from float_data/int64_data; written as
/// raw_data); a tensor of another type keeps its dims and type but no values.
/// </summary>
public sealed class OnnxTensor
{
    /// <summary>A FLOAT tensor of <paramref name="dims"/> holding <paramref name="values"/> (not copied).</summary>
    public static OnnxTensor FromFloats(string name, long[] dims, float[] values)
    {
        var tensor = new OnnxTensor { Name = name, DataType = OnnxDataType.Float, Dims = dims, Floats = values };
        tensor.CheckCount(values.Length);
        return tensor;
    }

    /// <summary>An INT64 tensor of <paramref name="dims"/> holding <paramref name="values"/> (not copied).</summary>
    public static OnnxTensor FromInt64s(string name, long[] dims, long[] values)
    {
        var tensor = new OnnxTensor { Name = name, DataType = OnnxDataType.Int64, Dims = dims, Int64s = values };
        tensor.CheckCount(values.Length);
        return tensor;
    }

    /// <summary>The tensor's name (an initializer's value name in its graph).</summary>
    public string Name { get; set; } = "";
    /// <summary>Its element type.</summary>
    public OnnxDataType DataType { get; set; }
    /// <summary>Its shape; empty for a scalar.</summary>
    public long[] Dims { get; set; } = [];
    /// <summary>The values of a FLOAT tensor, row-major; empty otherwise.</summary>
    public float[] Floats { get; set; } = [];
    /// <summary>The values of an INT64 tensor, row-major; empty otherwise.</summary>
    public long[] Int64s { get; set; } = [];

    /// <summary>The product of <see cref="Dims"/>, or -1 when it exceeds <see cref="long.MaxValue"/>.</summary>
    public long ElementCount
    {
        get
        {
            long count = 1;
            foreach (long d in Dims)
            {
                if (d != 0 && count > long.MaxValue / d)
                {
                    return -1;
                }
                count *= d;
            }
            return count;
        }
    }

    /// <summary>The protobuf bytes of this message alone.</summary>
    public byte[] ToBytes()
    {
        var w = new ProtoWriter();
        WriteTo(w);
        return w.ToArray();
    }

    /// <summary>Reads one TensorProto message; errors name <paramref name="source"/>.</summary>
    public static OnnxTensor Parse(ReadOnlySpan<byte> bytes, string source) => ReadFrom(new ProtoReader(bytes, source));

    internal void WriteTo(ProtoWriter w)
    {
        foreach (long d in Dims)
        {
            w.WriteInt64(1, d);
        }
        w.WriteInt64(2, (long)DataType);
        w.WriteString(8, Name);
        if (DataType == OnnxDataType.Float)
        {
            var raw = new byte[Floats.Length * 4];
            for (int i = 0; i < Floats.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * 4), Floats[i]);
            }
            w.WriteBytes(9, raw);
        }
        else if (DataType == OnnxDataType.Int64)
        {
            var raw = new byte[Int64s.Length * 8];
            for (int i = 0; i < Int64s.Length; i++)
            {
                BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * 8), Int64s[i]);
            }
            w.WriteBytes(9, raw);
        }
    }

    internal static OnnxTensor ReadFrom(ProtoReader r)
    {
        long start = r.Offset;
        var tensor = new OnnxTensor();
        var dims = new List<long>();
        var floats = new List<float>();
        var int64s = new List<long>();
        ReadOnlySpan<byte> raw = default;
        bool hasRaw = false;
        bool external = false;
        while (r.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case 1:
                    r.ReadRepeatedInt64(wire, dims);
                    break;
                case 2:
                    r.ExpectWireType(wire, WireType.Varint, "TensorProto.data_type");
                    tensor.DataType = (OnnxDataType)r.ReadInt32();
                    break;
                case 4:
                    r.ReadRepeatedFloat(wire, floats);
                    break;
                case 7:
                    r.ReadRepeatedInt64(wire, int64s);
                    break;
                case 8:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "TensorProto.name");
                    tensor.Name = r.ReadString();
                    break;
                case 9:
                    r.ExpectWireType(wire, WireType.LengthDelimited, "TensorProto.raw_data");
                    raw = r.ReadLengthDelimited();
                    hasRaw = true;
                    break;
                case 14:
                    r.ExpectWireType(wire, WireType.Varint, "TensorProto.data_location");
                    external = r.ReadInt64() == 1;
                    break;
                default:
                    r.Skip(wire);
                    break;
            }
        }
        tensor.Dims = [.. dims];
        string label = tensor.Name.Length > 0 ? $"tensor '{tensor.Name}'" : "a tensor";
        foreach (long d in tensor.Dims)
        {
            if (d < 0)
            {
                throw r.Error(start, $"{label} has a negative dimension ({d.ToString(CultureInfo.InvariantCulture)})");
            }
        }
        if (external)
        {
            throw r.Error(start, $"{label} keeps its data in an external file, which is not supported");
        }
        long count = tensor.ElementCount;
        if (tensor.DataType == OnnxDataType.Float)
        {
            tensor.Floats = hasRaw ? DecodeFloats(raw, ref r, start, label) : [.. floats];
            CheckPresent(ref r, start, label, count, tensor.Floats.Length);
        }
        else if (tensor.DataType == OnnxDataType.Int64)
        {
            tensor.Int64s = hasRaw ? DecodeInt64s(raw, ref r, start, label) : [.. int64s];
            CheckPresent(ref r, start, label, count, tensor.Int64s.Length);
        }
        return tensor;
    }

    private static float[] DecodeFloats(ReadOnlySpan<byte> raw, ref ProtoReader r, long start, string label)
    {
        if (raw.Length % 4 != 0)
        {
            throw r.Error(start, $"{label}'s raw_data holds {raw.Length.ToString(CultureInfo.InvariantCulture)} bytes, not a multiple of 4");
        }
        var values = new float[raw.Length / 4];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(i * 4)..]);
        }
        return values;
    }

    private static long[] DecodeInt64s(ReadOnlySpan<byte> raw, ref ProtoReader r, long start, string label)
    {
        if (raw.Length % 8 != 0)
        {
            throw r.Error(start, $"{label}'s raw_data holds {raw.Length.ToString(CultureInfo.InvariantCulture)} bytes, not a multiple of 8");
        }
        var values = new long[raw.Length / 8];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadInt64LittleEndian(raw[(i * 8)..]);
        }
        return values;
    }

    private static void CheckPresent(ref ProtoReader r, long start, string label, long declared, int present)
    {
        if (declared != present)
        {
            string shape = declared < 0 ? "more values than fit in 64 bits" : $"{declared.ToString(CultureInfo.InvariantCulture)} values";
            throw r.Error(start, $"{label} declares {shape} but holds {present.ToString(CultureInfo.InvariantCulture)}");
        }
    }

    private void CheckCount(int present)
    {
        foreach (long d in Dims)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Tensor '{Name}' has a negative dimension ({d}).", nameof(Dims));
            }
        }
        if (ElementCount != present)
        {
            throw new ArgumentException($"Tensor '{Name}' has dims [{string.Join(", ", Dims)}] but {present} values.", "values");
        }
    }
}
