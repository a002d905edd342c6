namespace Convnet.Data;

/// <summary>
/// Formats ASCII text and non-negative integers straight into a byte buffer that goes to the
/// stream in large blocks, which is much faster than a StreamWriter for numeric CSV.
/// </summary>
internal sealed class Utf8LineWriter
{
    /// <summary>The most bytes one <see cref="AppendNumber"/> writes.</summary>
    public const int MaxNumberBytes = 10;

    private readonly Stream _stream;
    private readonly byte[] _buffer;
    private int _used;

    public Utf8LineWriter(Stream stream, int bufferSize = 1 << 20)
    {
        _stream = stream;
        _buffer = new byte[bufferSize];
    }

    /// <summary>Makes room for <paramref name="bytes"/> more bytes, which the Append calls then assume.</summary>
    public void Reserve(int bytes)
    {
        if (bytes > _buffer.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, $"More than the buffer of {_buffer.Length} bytes.");
        }
        if (_buffer.Length - _used < bytes)
        {
            Flush();
        }
    }

    public void AppendChar(char ascii) => _buffer[_used++] = (byte)ascii;

    public void AppendText(string ascii)
    {
        Reserve(ascii.Length);
        foreach (char c in ascii)
        {
            _buffer[_used++] = (byte)c;
        }
    }

    /// <summary>Appends bytes as they are (UTF-8 text); <see cref="Reserve"/> their length first.</summary>
    public void AppendBytes(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer.AsSpan(_used));
        _used += bytes.Length;
    }

    public void AppendNumber(int value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        if (value < 10)
        {
            _buffer[_used++] = (byte)('0' + value);
            return;
        }
        if (value < 100)
        {
            _buffer[_used] = (byte)('0' + value / 10);
            _buffer[_used + 1] = (byte)('0' + value % 10);
            _used += 2;
            return;
        }
        int digits = 3;
        for (int rest = value / 1000; rest > 0; rest /= 10)
        {
            digits++;
        }
        for (int i = digits - 1; i >= 0; i--)
        {
            _buffer[_used + i] = (byte)('0' + value % 10);
            value /= 10;
        }
        _used += digits;
    }

    public void Flush()
    {
        _stream.Write(_buffer, 0, _used);
        _used = 0;
    }
}
