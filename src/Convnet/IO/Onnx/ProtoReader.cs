using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Convnet.IO.Onnx;

/// <summary>
/// Reads the protobuf wire format from a span, checking every length against the bytes left: a
/// truncated varint or value, a length past the end, a group or an unknown wire type throws
/// <see cref="ModelFormatException"/> naming the source and the byte offset. Nothing is allocated
/// beyond what the bytes present hold.
/// </summary>
public ref struct ProtoReader
{
    private readonly ReadOnlySpan<byte> _bytes;
    private readonly long _origin;
    private int _position;

    /// <summary>Reads <paramref name="bytes"/>; errors name <paramref name="source"/> (e.g. the file path).</summary>
    public ProtoReader(ReadOnlySpan<byte> bytes, string source)
        : this(bytes, source, 0)
    {
    }

    private ProtoReader(ReadOnlySpan<byte> bytes, string source, long origin)
    {
        _bytes = bytes;
        Source = source;
        _origin = origin;
    }

    /// <summary>What errors name, e.g. the file path.</summary>
    public string Source { get; }

    /// <summary>The offset of the next byte from the start of the outermost message.</summary>
    public readonly long Offset => _origin + _position;

    /// <summary>True when every byte has been read.</summary>
    public readonly bool AtEnd => _position >= _bytes.Length;

    /// <summary>
    /// Reads the next field's tag; false at the end of the message.
    /// </summary>
    public bool TryReadTag(out int field, out WireType wireType)
    {
        if (AtEnd)
        {
            field = 0;
            wireType = default;
            return false;
        }
        long at = Offset;
        ulong tag = ReadVarint();
        ulong number = tag >> 3;
        wireType = (WireType)(int)(tag & 7);
        if (number < 1 || number > 536_870_911)
        {
            throw Error(at, $"field number {number.ToString(CultureInfo.InvariantCulture)} is out of range");
        }
        if (wireType is WireType.StartGroup or WireType.EndGroup || (int)wireType > 5)
        {
            throw Error(at, $"field {number.ToString(CultureInfo.InvariantCulture)} has wire type {(int)wireType}, which this reader does not accept");
        }
        field = (int)number;
        return true;
    }

    /// <summary>A base-128 varint of at most 10 bytes.</summary>
    public ulong ReadVarint()
    {
        long at = Offset;
        ulong value = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (_position >= _bytes.Length)
            {
                throw Error(at, "the data ends inside a varint");
            }
            byte b = _bytes[_position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
        throw Error(at, "a varint is longer than 10 bytes");
    }

    /// <summary>An int64 field's value (two's complement in the varint).</summary>
    public long ReadInt64() => (long)ReadVarint();

    /// <summary>An int32 or enum field's value; refuses one outside int's range.</summary>
    public int ReadInt32()
    {
        long at = Offset;
        long value = ReadInt64();
        return value is >= int.MinValue and <= int.MaxValue ? (int)value
            : throw Error(at, $"the value {value.ToString(CultureInfo.InvariantCulture)} does not fit a 32-bit field");
    }

    /// <summary>4 little-endian bytes as a float.</summary>
    public float ReadFloat() => BinaryPrimitives.ReadSingleLittleEndian(Take(4, "a float"));

    /// <summary>8 little-endian bytes as a double.</summary>
    public double ReadDouble() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8, "a double"));

    /// <summary>A length-delimited field's payload (a view of the input, not a copy).</summary>
    public ReadOnlySpan<byte> ReadLengthDelimited()
    {
        long at = Offset;
        ulong length = ReadVarint();
        int left = _bytes.Length - _position;
        if (length > (ulong)left)
        {
            throw Error(at, $"a field declares {length.ToString(CultureInfo.InvariantCulture)} bytes but only {left.ToString(CultureInfo.InvariantCulture)} remain");
        }
        var payload = _bytes.Slice(_position, (int)length);
        _position += (int)length;
        return payload;
    }

    /// <summary>A length-delimited field as a reader of its own; its offsets stay those of the whole input.</summary>
    public ProtoReader ReadMessage()
    {
        var payload = ReadLengthDelimited();
        // The payload ends where this reader now stands.
        return new ProtoReader(payload, Source, Offset - payload.Length);
    }

    /// <summary>A string field, decoded as UTF-8 (invalid sequences refused).</summary>
    public string ReadString()
    {
        long at = Offset;
        var bytes = ReadLengthDelimited();
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Error(at, "a string field is not valid UTF-8");
        }
    }

    /// <summary>
    /// One value of a repeated int64 field: appends the packed values of a length-delimited
    /// record, or the one varint of an unpacked one.
    /// </summary>
    public void ReadRepeatedInt64(WireType wireType, List<long> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (wireType == WireType.Varint)
        {
            values.Add(ReadInt64());
            return;
        }
        ExpectWireType(wireType, WireType.LengthDelimited, "a repeated int64 field");
        var packed = ReadMessage();
        while (!packed.AtEnd)
        {
            values.Add(packed.ReadInt64());
        }
    }

    /// <summary>One value of a repeated float field, packed (4 bytes each) or one fixed32.</summary>
    public void ReadRepeatedFloat(WireType wireType, List<float> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (wireType == WireType.Fixed32)
        {
            values.Add(ReadFloat());
            return;
        }
        ExpectWireType(wireType, WireType.LengthDelimited, "a repeated float field");
        long at = Offset;
        var packed = ReadLengthDelimited();
        if (packed.Length % 4 != 0)
        {
            throw Error(at, $"a packed float field holds {packed.Length.ToString(CultureInfo.InvariantCulture)} bytes, not a multiple of 4");
        }
        values.EnsureCapacity(values.Count + packed.Length / 4);
        for (int i = 0; i < packed.Length; i += 4)
        {
            values.Add(BinaryPrimitives.ReadSingleLittleEndian(packed[i..]));
        }
    }

    /// <summary>One value of a repeated double field, packed (8 bytes each) or one fixed64.</summary>
    public void ReadRepeatedDouble(WireType wireType, List<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (wireType == WireType.Fixed64)
        {
            values.Add(ReadDouble());
            return;
        }
        ExpectWireType(wireType, WireType.LengthDelimited, "a repeated double field");
        long at = Offset;
        var packed = ReadLengthDelimited();
        if (packed.Length % 8 != 0)
        {
            throw Error(at, $"a packed double field holds {packed.Length.ToString(CultureInfo.InvariantCulture)} bytes, not a multiple of 8");
        }
        values.EnsureCapacity(values.Count + packed.Length / 8);
        for (int i = 0; i < packed.Length; i += 8)
        {
            values.Add(BinaryPrimitives.ReadDoubleLittleEndian(packed[i..]));
        }
    }

    /// <summary>Throws unless a field has the wire type its declaration gives.</summary>
    public readonly void ExpectWireType(WireType actual, WireType expected, string what)
    {
        if (actual != expected)
        {
            throw Error(Offset, $"{what} has wire type {(int)actual}, expected {(int)expected}");
        }
    }

    /// <summary>Skips the value of a field this reader does not know.</summary>
    public void Skip(WireType wireType)
    {
        switch (wireType)
        {
            case WireType.Varint:
                ReadVarint();
                break;
            case WireType.Fixed64:
                Take(8, "a fixed64 value");
                break;
            case WireType.LengthDelimited:
                ReadLengthDelimited();
                break;
            case WireType.Fixed32:
                Take(4, "a fixed32 value");
                break;
            default:
                throw Error(Offset, $"wire type {(int)wireType} cannot be skipped");
        }
    }

    /// <summary>A <see cref="ModelFormatException"/> naming the source, the byte offset and <paramref name="problem"/>.</summary>
    public readonly ModelFormatException Error(long offset, string problem) =>
        new(Source, $"not a valid ONNX file: {problem} (at byte {offset.ToString(CultureInfo.InvariantCulture)})");

    private ReadOnlySpan<byte> Take(int count, string what)
    {
        if (_bytes.Length - _position < count)
        {
            throw Error(Offset, $"the data ends inside {what}");
        }
        var slice = _bytes.Slice(_position, count);
        _position += count;
        return slice;
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
