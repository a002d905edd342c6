using System.Buffers;
using System.Text;
using CsvHelper;

namespace Convnet.Data;

/// <summary>
/// A CSV file of small non-negative integers, read with CsvHelper, that turns every failure
/// into a <see cref="DataFormatException"/> naming the file, line and column.
/// </summary>
internal sealed class CsvInput : IDisposable
{
    // The largest image's header (KaggleCsv.MaxImageSide² = 262,144 columns "pixel0".."pixel262143",
    // quoted) is under 3.6 MB, a row of its quoted three-digit values 1.6 MB; a larger record is
    // binary data or a file without line breaks, and this bounds the memory spent finding that out.
    private const int MaxRecordBytes = 4 << 20;

    // Enough to hold the header and the first rows, which is where a wrong file shows itself.
    private const int SniffBytes = 1 << 16;

    private const int MaxShownChars = 24;

    private static readonly CsvReaderOptions Options = CsvReaderOptions.Default with
    {
        Separator = ',',
        HasHeader = true,
        DetectSeparatorHint = false,
        AllowLineBreaksInQuotes = false,
        MalformedData = CsvMalformedDataHandling.Throw,
        MaxRecordSize = MaxRecordBytes,
        TrackLineNumbers = true,
    };

    // Bytes that are not printable ASCII, tab, CR or LF: control characters and all of UTF-8's multi-byte sequences.
    private static readonly SearchValues<byte> NotPlainText = SearchValues.Create(
        [.. Enumerable.Range(0, 256).Where(b => b is < 0x20 and not ('\t' or '\r' or '\n') or >= 0x7F).Select(b => (byte)b)]);

    private readonly CsvReader _reader;

    private CsvInput(string path, CsvReader reader, long length)
    {
        Path = path;
        _reader = reader;
        Length = length;
        Headers = [];
    }

    public string Path { get; }

    /// <summary>The size of the file in bytes.</summary>
    public long Length { get; }

    public IReadOnlyList<string> Headers { get; private set; }

    /// <summary>The number of fields of the current row.</summary>
    public int FieldCount => _reader.FieldCount;

    /// <summary>The bytes of the current row as they are in the file, without its line break.</summary>
    public ReadOnlySpan<byte> RawRow => _reader.RawRecord;

    /// <summary>The 1-based line where the current row starts.</summary>
    public int Line => (int)Math.Min(_reader.LineNumber, int.MaxValue);

    /// <summary>Opens <paramref name="path"/> and reads its header, which is never empty.</summary>
    public static CsvInput Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
        {
            throw new DataFormatException(path, "is a directory, not a file");
        }
        if (!File.Exists(path))
        {
            throw new DataFormatException(path, "file not found");
        }
        long length;
        byte[] head;
        CsvReader reader;
        try
        {
            using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1))
            {
                length = file.Length;
                head = new byte[(int)Math.Min(length, SniffBytes)];
                file.ReadExactly(head);
            }
            if (length == 0)
            {
                throw new DataFormatException(path, "file is empty");
            }
            CheckText(path, head, complete: length == head.Length);
            reader = CsvReader.FromFile(path, Options);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFormatException(path, $"cannot be read: {e.Message}", innerException: e);
        }

        var input = new CsvInput(path, reader, length);
        try
        {
            input.Headers = reader.Headers;
        }
        catch (CsvFormatException e)
        {
            reader.Dispose();
            throw input.Malformed(e);
        }
        catch
        {
            reader.Dispose();
            throw;
        }
        if (input.Headers.Count == 0)
        {
            reader.Dispose();
            throw new DataFormatException(path, "file is empty (it has no header line)");
        }
        return input;
    }

    /// <summary>The number of LF, or else CR, bytes in the file: one per line, give or take the last.</summary>
    public long CountLineBreaks()
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            using var file = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            long lf = 0, cr = 0;
            int read;
            while ((read = file.Read(buffer)) > 0)
            {
                lf += buffer.AsSpan(0, read).Count((byte)'\n');
                cr += buffer.AsSpan(0, read).Count((byte)'\r');
            }
            return Math.Max(lf, cr);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFormatException(Path, $"cannot be read: {e.Message}", innerException: e);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Moves to the next row; false at the end of the file. Blank lines are skipped.</summary>
    public bool Read()
    {
        try
        {
            return _reader.Read();
        }
        catch (CsvFormatException e)
        {
            throw Malformed(e);
        }
        catch (IOException e)
        {
            throw new DataFormatException(Path, $"cannot be read: {e.Message}", innerException: e);
        }
    }

    /// <summary>The bytes of field <paramref name="index"/> of the current row, without its quotes.</summary>
    public ReadOnlySpan<byte> Field(int index) => _reader.GetSpan(index);

    /// <summary>Field <paramref name="index"/> as an integer 0..<paramref name="max"/> when it is plainly one (one to three digits).</summary>
    public bool TryParseByte(int index, int max, out byte value)
    {
        bool ok = TryParseDigits(_reader.GetSpan(index), out uint parsed) && parsed <= (uint)max;
        value = (byte)parsed;
        return ok;
    }

    /// <summary>Field <paramref name="index"/> as an integer 0..<paramref name="max"/>.</summary>
    public byte ParseByte(int index, int max, string? columnName)
    {
        ReadOnlySpan<byte> s = _reader.GetSpan(index);
        return TryParseDigits(s, out uint value) && value <= (uint)max
            ? (byte)value
            : (byte)ParseNonNegative(index, 0, max, columnName);
    }

    /// <summary>One to three decimal digits, the common case.</summary>
    private static bool TryParseDigits(ReadOnlySpan<byte> s, out uint value)
    {
        value = 0;
        if (s.Length is 0 or > 3)
        {
            return false;
        }
        foreach (byte b in s)
        {
            uint digit = (uint)(b - '0');
            if (digit > 9)
            {
                return false;
            }
            value = value * 10 + digit;
        }
        return true;
    }

    /// <summary>Field <paramref name="index"/> as an integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public long ParseNonNegative(int index, long min, long max, string? columnName)
    {
        ReadOnlySpan<byte> s = _reader.GetSpan(index);
        string? problem = Classify(s, min, max, out long value);
        return problem is null ? value : throw FieldError(index, columnName, problem);
    }

    public DataFormatException FieldError(int index, string? columnName, string problem) =>
        new(Path, problem, Line, index + 1, columnName);

    public DataFormatException RowError(string problem, int column = 0, string? columnName = null) =>
        new(Path, problem, Line, column, columnName);

    public void Dispose() => _reader.Dispose();

    /// <summary>Why <paramref name="s"/> is not a plain decimal integer in range, or null with its value.</summary>
    private static string? Classify(ReadOnlySpan<byte> s, long min, long max, out long value)
    {
        value = 0;
        string range = $"{min}-{max}";
        if (s.IsEmpty)
        {
            return $"empty field, expected an integer {range}";
        }
        if (FirstNonText(s) is int bad)
        {
            return $"binary data (byte 0x{s[bad]:X2}) where an integer {range} was expected";
        }
        int start = s[0] is (byte)'-' or (byte)'+' ? 1 : 0;
        bool digits = s.Length > start;
        for (int i = start; i < s.Length && digits; i++)
        {
            digits = s[i] is >= (byte)'0' and <= (byte)'9';
        }
        string shown = Show(s);
        if (!digits)
        {
            return $"{shown} is not an integer, expected {range}";
        }
        if (s[0] == (byte)'+')
        {
            return $"{shown} has a sign, expected a plain integer {range}";
        }
        bool negative = s[0] == (byte)'-';
        long magnitude = 0;
        for (int i = start; i < s.Length; i++)
        {
            magnitude = Math.Min(magnitude * 10 + (s[i] - '0'), long.MaxValue / 10);
        }
        long v = negative ? -magnitude : magnitude;
        if (v < min || v > max || (negative && magnitude == 0))
        {
            return $"{shown} is out of range {range}";
        }
        value = v;
        return null;
    }

    /// <summary>The value in quotes, shortened; for messages.</summary>
    internal static string Show(ReadOnlySpan<byte> s)
    {
        string text = Encoding.UTF8.GetString(s);
        return Show(text);
    }

    internal static string Show(string text) =>
        text.Length <= MaxShownChars ? $"'{text}'" : $"'{text[..MaxShownChars]}...' ({text.Length} characters)";

    /// <summary>The offset of the first byte that is a control character or not valid UTF-8.</summary>
    internal static int? FirstNonText(ReadOnlySpan<byte> s)
    {
        int offset = 0;
        while (offset < s.Length)
        {
            OperationStatus status = Rune.DecodeFromUtf8(s[offset..], out Rune rune, out int consumed);
            if (status != OperationStatus.Done || IsBinary(rune))
            {
                return offset;
            }
            offset += consumed;
        }
        return null;
    }

    /// <summary>
    /// Rejects binary files before CSV parsing, which would otherwise report them as a confusing
    /// header. UTF-16 and UTF-32 files, which have byte order marks, are left to CsvHelper.
    /// </summary>
    private static void CheckText(string path, ReadOnlySpan<byte> head, bool complete)
    {
        if (head is [0xFF, 0xFE, ..] or [0xFE, 0xFF, ..] or [0, 0, 0xFE, 0xFF, ..])
        {
            return;
        }
        if (head is [0x1F, 0x8B, ..])
        {
            throw new DataFormatException(path, "is gzip-compressed, not a CSV file: decompress it first (gunzip)");
        }
        if (head is [(byte)'P', (byte)'K', 3, 4, ..])
        {
            throw new DataFormatException(path, "is a zip archive, not a CSV file: extract it first (unzip)");
        }
        int start = head is [0xEF, 0xBB, 0xBF, ..] ? 3 : 0;
        int first = head[start..].IndexOfAny(NotPlainText);
        if (first < 0)
        {
            return;
        }
        int offset = start + first;
        while (offset < head.Length)
        {
            OperationStatus status = Rune.DecodeFromUtf8(head[offset..], out Rune rune, out int consumed);
            if (status == OperationStatus.NeedMoreData && !complete)
            {
                return;
            }
            if (status != OperationStatus.Done)
            {
                throw new DataFormatException(path, $"not a UTF-8 text file: invalid byte 0x{head[offset]:X2} at byte offset {offset}", LineAt(head, offset));
            }
            if (IsBinary(rune))
            {
                throw new DataFormatException(path, $"not a text CSV file: binary byte 0x{head[offset]:X2} at byte offset {offset}", LineAt(head, offset));
            }
            offset += consumed;
        }
    }

    private static bool IsBinary(Rune rune) => Rune.IsControl(rune) && rune.Value is not ('\t' or '\r' or '\n');

    private static int LineAt(ReadOnlySpan<byte> head, int offset) => head[..offset].Count((byte)'\n') + 1;

    private DataFormatException Malformed(CsvFormatException e)
    {
        // CsvHelper's message starts with its own location, "Malformed CSV in record 2 (line 2): ".
        string detail = e.Message;
        int cut = detail.IndexOf("): ", StringComparison.Ordinal);
        if (cut >= 0)
        {
            detail = detail[(cut + 3)..];
        }
        return new DataFormatException(Path, $"malformed CSV: {detail.TrimEnd('.')}", (int)Math.Min(e.LineNumber, int.MaxValue), innerException: e);
    }
}
