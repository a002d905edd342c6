using System.Buffers.Binary;
using System.Text;

namespace Convnet.IO.Onnx;

/// <summary>The protobuf wire types we read and write (https://protobuf.dev/programming-guides/encoding/).</summary>
public enum WireType
{
    /// <summary>A base-128 varint (int32, int64, enum, bool).</summary>
    Varint = 0,
    /// <summary>8 little-endian bytes (double, fixed64).</summary>
    Fixed64 = 1,
    /// <summary>A varint length, then that many bytes (string, bytes, message, packed repeated).</summary>
    LengthDelimited = 2,
    /// <summary>Start of a group (deprecated; refused).</summary>
    StartGroup = 3,
    /// <summary>End of a group (deprecated; refused).</summary>
    EndGroup = 4,
    /// <summary>4 little-endian bytes (float, fixed32).</summary>
    Fixed32 = 5,
}

/// <summary>
/// Writes the protobuf wire format into a growing buffer: each field is a tag (field number · 8 +
/// wire type, as a varint) then its value. A nested message is written into its own writer first,
/// then added with <see cref="WriteMessage"/> (its length must precede it).
/// </summary>
public sealed class ProtoWriter
{
    private byte[] _buffer = new byte[256];
    private int _length;

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    /// <summary>A copy of the bytes written so far.</summary>
    public byte[] ToArray() => Written.ToArray();

    /// <summary>Writes field <paramref name="field"/>'s tag with <paramref name="wireType"/>.</summary>
    public void WriteTag(int field, WireType wireType)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(field, 1);
        WriteVarint(((ulong)(uint)field << 3) | (uint)wireType);
    }

    /// <summary>Writes <paramref name="value"/> as a base-128 varint, 7 bits a byte, low bits first.</summary>
    public void WriteVarint(ulong value)
    {
        Reserve(10);
        while (value >= 0x80)
        {
            _buffer[_length++] = (byte)(value | 0x80);
            value >>= 7;
        }
        _buffer[_length++] = (byte)value;
    }

    /// <summary>An int64 (or int32, or enum) field; negative values take 10 bytes, as protobuf's int64.</summary>
    public void WriteInt64(int field, long value)
    {
        WriteTag(field, WireType.Varint);
        WriteVarint((ulong)value);
    }

    /// <summary>A float field: 4 little-endian bytes.</summary>
    public void WriteFloat(int field, float value)
    {
        WriteTag(field, WireType.Fixed32);
        WriteFixed32(value);
    }

    /// <summary>A string field: its UTF-8 bytes.</summary>
    public void WriteString(int field, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        WriteBytes(field, Encoding.UTF8.GetBytes(value));
    }

    /// <summary>A bytes field (or any length-delimited payload).</summary>
    public void WriteBytes(int field, ReadOnlySpan<byte> value)
    {
        WriteTag(field, WireType.LengthDelimited);
        WriteVarint((ulong)value.Length);
        Reserve(value.Length);
        value.CopyTo(_buffer.AsSpan(_length));
        _length += value.Length;
    }

    /// <summary>A message field: the bytes written into <paramref name="message"/>, length first.</summary>
    public void WriteMessage(int field, ProtoWriter message)
    {
        ArgumentNullException.ThrowIfNull(message);
        WriteBytes(field, message.Written);
    }

    /// <summary>A repeated int64 field in packed form: one length, then the varints.</summary>
    public void WritePackedInt64(int field, ReadOnlySpan<long> values)
    {
        var body = new ProtoWriter();
        foreach (long v in values)
        {
            body.WriteVarint((ulong)v);
        }
        WriteBytes(field, body.Written);
    }

    /// <summary>A repeated float field in packed form: one length, then 4 bytes per value.</summary>
    public void WritePackedFloat(int field, ReadOnlySpan<float> values)
    {
        WriteTag(field, WireType.LengthDelimited);
        WriteVarint((ulong)values.Length * 4);
        foreach (float v in values)
        {
            WriteFixed32(v);
        }
    }

    private void WriteFixed32(float value)
    {
        Reserve(4);
        BinaryPrimitives.WriteSingleLittleEndian(_buffer.AsSpan(_length), value);
        _length += 4;
    }

    private void Reserve(int more)
    {
        if (_buffer.Length - _length >= more)
        {
            return;
        }
        long wanted = Math.Max((long)_buffer.Length * 2, (long)_length + more);
        if (wanted > Array.MaxLength)
        {
            wanted = (long)_length + more <= Array.MaxLength ? Array.MaxLength
                : throw new InvalidOperationException("The protobuf message would exceed 2 GiB, the format's limit.");
        }
        Array.Resize(ref _buffer, (int)wanted);
    }
}
