using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;

namespace Convnet.IO;

/// <summary>
/// Reads and writes float32 tensors in the safetensors format
/// (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N, N bytes
/// of UTF-8 JSON padded with spaces so the data starts 8-byte aligned, then the tensors' bytes,
/// little-endian, back to back. The JSON maps each tensor name to
/// <c>{"dtype":"F32","shape":[...],"data_offsets":[begin,end]}</c> (offsets into the data, end
/// exclusive) and may hold <c>"__metadata__"</c>, a map of strings to strings.
/// </summary>
public static class SafeTensors
{
    /// <summary>The largest header accepted, as in the reference implementation.</summary>
    public const int MaxHeaderBytes = 100_000_000;

    /// <summary>
    /// Metadata key for <see cref="Sha256OfTensorBytes"/>; when present, <see cref="Read"/> checks it.
    /// </summary>
    public const string ChecksumKey = "tensors_sha256";

    private const string MetadataKey = "__metadata__";
    private const string Dtype = "F32";
    private const int Alignment = 8;
    private const int ChunkFloats = 16384;

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Still escapes quotes, backslashes and control characters; keeps non-ASCII text readable.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static readonly JsonDocumentOptions ReaderOptions = new()
    {
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Disallow,
        MaxDepth = 16,
    };

    /// <summary>
    /// Writes <paramref name="tensors"/>, in the order given, and <paramref name="metadata"/>, sorted
    /// by key, so the same inputs always give the same bytes. The file is written next to
    /// <paramref name="path"/> under a temporary name, flushed to disk, then moved over
    /// <paramref name="path"/>; if anything fails, the temporary file is deleted and an existing file
    /// at <paramref name="path"/> is left as it was.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// A tensor's data does not match its shape, names repeat or use <c>__metadata__</c>, a metadata
    /// value is null, or metadata holds a <see cref="ChecksumKey"/> that does not match the tensors.
    /// </exception>
    public static void Write(string path, IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(metadata);
        var entries = Snapshot(tensors);
        var sortedMetadata = SortMetadata(metadata);
        if (metadata.TryGetValue(ChecksumKey, out string? expected))
        {
            string actual = Sha256(entries.Select(e => e.Data));
            if (!string.Equals(expected, actual, StringComparison.OrdinalIgnoreCase))
            {
                throw new ArgumentException($"Metadata {ChecksumKey} is {expected} but the tensors hash to {actual}.", nameof(metadata));
            }
        }
        byte[] header = BuildHeader(entries, sortedMetadata);

        using var file = AtomicFile.Create(path);
        var stream = file.Stream;
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        stream.Write(prefix);
        stream.Write(header);
        byte[] scratch = BitConverter.IsLittleEndian ? [] : new byte[ChunkFloats * sizeof(float)];
        foreach (var entry in entries)
        {
            for (int start = 0; start < entry.Data.Length; start += ChunkFloats)
            {
                var chunk = entry.Data.AsSpan(start, Math.Min(ChunkFloats, entry.Data.Length - start));
                stream.Write(LittleEndianBytes(chunk, scratch));
            }
        }
        file.Commit();
    }

    /// <summary>
    /// Reads every tensor, in the order of their bytes in the file, and the metadata (empty if
    /// there is none). If the metadata holds <see cref="ChecksumKey"/>, the tensor bytes must match
    /// it: they are hashed in one streaming pass through a small buffer first, so a file whose data
    /// does not match is refused before any tensor is allocated. Every size is checked against the
    /// file's length before anything is allocated for it.
    /// </summary>
    /// <exception cref="ModelFormatException">The file is missing or is not a valid F32 safetensors file.</exception>
    public static (IReadOnlyList<NamedTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = Open(path);
        var header = ReadHeader(path, stream);
        if (header.Metadata.TryGetValue(ChecksumKey, out string? expected))
        {
            long dataStart = stream.Position;
            string actual = HashToEnd(path, stream);
            if (!string.Equals(expected, actual, StringComparison.OrdinalIgnoreCase))
            {
                throw new ModelFormatException(path, $"checksum mismatch ({ChecksumKey} in metadata is {expected}, tensor bytes hash to {actual})");
            }
            stream.Position = dataStart;
        }
        var tensors = new NamedTensor[header.Entries.Count];
        for (int i = 0; i < tensors.Length; i++)
        {
            var entry = header.Entries[i];
            var data = new float[entry.Count];
            try
            {
                stream.ReadExactly(MemoryMarshal.AsBytes(data.AsSpan()));
            }
            catch (EndOfStreamException e)
            {
                throw new ModelFormatException(path, $"file ended inside tensor '{entry.Name}'", e);
            }
            if (!BitConverter.IsLittleEndian)
            {
                var ints = MemoryMarshal.Cast<float, int>(data.AsSpan());
                BinaryPrimitives.ReverseEndianness(ints, ints);
            }
            tensors[i] = new NamedTensor(entry.Name, entry.Shape, data);
        }
        return (tensors, header.Metadata);
    }

    // Lowercase hex SHA-256 of the stream from its position to its end, through one pooled buffer.
    private static string HashToEnd(string path, FileStream stream)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            long left = stream.Length - stream.Position;
            while (left > 0)
            {
                int read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
                if (read == 0)
                {
                    throw new ModelFormatException(path, "file ended inside the tensor data");
                }
                sha.AppendData(buffer, 0, read);
                left -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>
    /// Reads and validates only the header, returning the metadata; the tensor bytes are not read,
    /// so <see cref="ChecksumKey"/> is not checked.
    /// </summary>
    /// <exception cref="ModelFormatException">The file is missing or its header is not valid.</exception>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = Open(path);
        return ReadHeader(path, stream).Metadata;
    }

    /// <summary>
    /// Lowercase hex SHA-256 of the tensors' little-endian bytes concatenated in list order: for a
    /// file written by <see cref="Write"/>, the hash of everything after the header.
    /// </summary>
    public static string Sha256OfTensorBytes(IReadOnlyList<NamedTensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        return Sha256(tensors.Select(t => (t ?? throw new ArgumentException("A tensor is null.", nameof(tensors))).Data));
    }

    private static string Sha256(IEnumerable<float[]> arrays)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] scratch = BitConverter.IsLittleEndian ? [] : new byte[ChunkFloats * sizeof(float)];
        foreach (float[] data in arrays)
        {
            for (int start = 0; start < data.Length; start += ChunkFloats)
            {
                var chunk = data.AsSpan(start, Math.Min(ChunkFloats, data.Length - start));
                sha.AppendData(LittleEndianBytes(chunk, scratch));
            }
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private readonly record struct Entry(string Name, int[] Shape, float[] Data);

    // Copies the shapes so that a caller changing them mid-write cannot desynchronise header and data.
    private static Entry[] Snapshot(IReadOnlyList<NamedTensor> tensors)
    {
        var entries = new Entry[tensors.Count];
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < entries.Length; i++)
        {
            var tensor = tensors[i] ?? throw new ArgumentException($"Tensor {i} is null.", nameof(tensors));
            if (tensor.Name == MetadataKey)
            {
                throw new ArgumentException($"'{MetadataKey}' is reserved and cannot name a tensor.", nameof(tensors));
            }
            if (!names.Add(tensor.Name))
            {
                throw new ArgumentException($"Two tensors are named '{tensor.Name}'.", nameof(tensors));
            }
            int[] shape = (int[])tensor.Shape.Clone();
            long count = NamedTensor.ElementCount(shape);
            if (count != tensor.Data.Length)
            {
                throw new ArgumentException($"Tensor '{tensor.Name}' has shape [{string.Join(", ", shape)}] ({count} values) but {tensor.Data.Length} data values.", nameof(tensors));
            }
            entries[i] = new Entry(tensor.Name, shape, tensor.Data);
        }
        return entries;
    }

    private static KeyValuePair<string, string>[] SortMetadata(IReadOnlyDictionary<string, string> metadata)
    {
        var pairs = metadata.ToArray();
        foreach (var (key, value) in pairs)
        {
            if (key is null || value is null)
            {
                throw new ArgumentException($"Metadata key '{key}' has a null value.", nameof(metadata));
            }
        }
        Array.Sort(pairs, (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return pairs;
    }

    // {"__metadata__":{...},"name":{"dtype":"F32","shape":[...],"data_offsets":[b,e]},...} + spaces to a multiple of 8.
    private static byte[] BuildHeader(Entry[] entries, KeyValuePair<string, string>[] metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            json.WriteStartObject();
            if (metadata.Length > 0)
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var entry in entries)
            {
                json.WriteStartObject(entry.Name);
                json.WriteString("dtype", Dtype);
                json.WriteStartArray("shape");
                foreach (int dim in entry.Shape)
                {
                    json.WriteNumberValue(dim);
                }
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                offset += (long)entry.Data.Length * sizeof(float);
                json.WriteNumberValue(offset);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        int length = buffer.WrittenCount;
        int padded = (length + Alignment - 1) / Alignment * Alignment;
        if (padded > MaxHeaderBytes)
        {
            throw new ArgumentException($"The header would take {padded} bytes, more than the {MaxHeaderBytes}-byte limit.");
        }
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(length).Fill((byte)' ');
        return header;
    }

    private static ReadOnlySpan<byte> LittleEndianBytes(ReadOnlySpan<float> chunk, Span<byte> scratch)
    {
        if (BitConverter.IsLittleEndian)
        {
            return MemoryMarshal.AsBytes(chunk);
        }
        var bytes = scratch[..(chunk.Length * sizeof(float))];
        BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<float, int>(chunk), MemoryMarshal.Cast<byte, int>(bytes));
        return bytes;
    }

    private static FileStream Open(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ModelFormatException(path, "file not found", e);
        }
    }

    // A validated header; Entries are sorted by data offset and cover the data exactly, so the
    // stream, left at the start of the data, can be read through in order.
    private sealed record Header(List<HeaderEntry> Entries, Dictionary<string, string> Metadata);

    private readonly record struct HeaderEntry(string Name, int[] Shape, int Count, long Begin, long End, int Index);

    private static Header ReadHeader(string path, FileStream stream)
    {
        long fileLength = stream.Length;
        if (fileLength < 8)
        {
            throw new ModelFormatException(path, $"not a safetensors file ({fileLength} bytes, too short for the 8-byte header length)");
        }
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength == 0)
        {
            throw new ModelFormatException(path, "not a safetensors file (header length 0)");
        }
        if (headerLength > (ulong)(fileLength - 8))
        {
            throw new ModelFormatException(path, $"not a safetensors file (header length {headerLength} exceeds file size {fileLength})");
        }
        if (headerLength > MaxHeaderBytes)
        {
            throw new ModelFormatException(path, $"not a safetensors file (header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit)");
        }
        var bytes = new byte[(int)headerLength];
        try
        {
            stream.ReadExactly(bytes);
        }
        catch (EndOfStreamException e)
        {
            throw new ModelFormatException(path, "file ended inside the header", e);
        }
        long dataLength = fileLength - 8 - (long)headerLength;
        if (bytes[0] != (byte)'{')
        {
            throw new ModelFormatException(path, "not a safetensors file (header does not start with '{')");
        }
        if (!Utf8.IsValid(bytes))
        {
            throw new ModelFormatException(path, "corrupt header (not valid UTF-8)");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, ReaderOptions);
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"corrupt header (invalid JSON: {e.Message})", e);
        }
        using (document)
        {
            try
            {
                return ParseHeader(path, document.RootElement, dataLength);
            }
            catch (InvalidOperationException e)
            {
                // Thrown when reading a string holding an escaped lone surrogate such as "\ud800".
                throw new ModelFormatException(path, $"corrupt header ({e.Message})", e);
            }
        }
    }

    private static Header ParseHeader(string path, JsonElement root, long dataLength)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new ModelFormatException(path, $"corrupt header (a JSON {root.ValueKind}, not an object)");
        }
        var entries = new List<HeaderEntry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            if (!keys.Add(property.Name))
            {
                throw new ModelFormatException(path, $"corrupt header (duplicate key '{property.Name}')");
            }
            if (property.Name == MetadataKey)
            {
                ParseMetadata(path, property.Value, metadata);
            }
            else
            {
                entries.Add(ParseEntry(path, property.Name, property.Value, entries.Count, dataLength));
            }
        }

        // The spec requires the data to be covered exactly: no gaps, no overlaps, nothing after.
        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin)
            : a.End != b.End ? a.End.CompareTo(b.End)
            : a.Index.CompareTo(b.Index));
        long covered = 0;
        string? previous = null;
        foreach (var entry in entries)
        {
            if (entry.Begin > covered)
            {
                throw new ModelFormatException(path, previous is null
                    ? $"gap in the data ({entry.Begin} unused bytes before tensor '{entry.Name}')"
                    : $"gap in the data ({entry.Begin - covered} unused bytes between tensors '{previous}' and '{entry.Name}')");
            }
            if (entry.Begin < covered)
            {
                throw new ModelFormatException(path, $"tensors '{previous}' and '{entry.Name}' overlap");
            }
            covered = entry.End;
            previous = entry.Name;
        }
        if (covered != dataLength)
        {
            throw new ModelFormatException(path, $"{dataLength - covered} trailing bytes after the last tensor");
        }
        return new Header(entries, metadata);
    }

    private static void ParseMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        // The reference implementation reads "__metadata__": null as no metadata.
        if (value.ValueKind == JsonValueKind.Null)
        {
            return;
        }
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new ModelFormatException(path, $"corrupt header ({MetadataKey} is a JSON {value.ValueKind}, not an object)");
        }
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw new ModelFormatException(path, $"metadata value for '{item.Name}' is a JSON {item.Value.ValueKind}; metadata values must be strings");
            }
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
            {
                throw new ModelFormatException(path, $"corrupt header (duplicate metadata key '{item.Name}')");
            }
        }
    }

    private static HeaderEntry ParseEntry(string path, string name, JsonElement value, int index, long dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new ModelFormatException(path, $"tensor '{name}' is a JSON {value.ValueKind}, not an object");
        }
        JsonElement? dtype = null, shapeValue = null, offsetsValue = null;
        foreach (var field in value.EnumerateObject())
        {
            switch (field.Name)
            {
                case "dtype":
                    SetOnce(ref dtype, field);
                    break;
                case "shape":
                    SetOnce(ref shapeValue, field);
                    break;
                case "data_offsets":
                    SetOnce(ref offsetsValue, field);
                    break;
                default:
                    throw new ModelFormatException(path, $"tensor '{name}' has unknown field '{field.Name}'");
            }
        }
        if (dtype is not { } dtypeElement)
        {
            throw new ModelFormatException(path, $"tensor '{name}' has no dtype");
        }
        if (shapeValue is not { } shapeElement)
        {
            throw new ModelFormatException(path, $"tensor '{name}' has no shape");
        }
        if (offsetsValue is not { } offsetsElement)
        {
            throw new ModelFormatException(path, $"tensor '{name}' has no data_offsets");
        }

        if (dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw new ModelFormatException(path, $"tensor '{name}' has dtype {dtypeElement.GetRawText()}, not a string");
        }
        string dtypeName = dtypeElement.GetString()!;
        if (dtypeName != Dtype)
        {
            throw new ModelFormatException(path, $"tensor '{name}' has dtype {dtypeName}; only {Dtype} is supported");
        }

        if (shapeElement.ValueKind != JsonValueKind.Array)
        {
            throw new ModelFormatException(path, $"tensor '{name}' has shape {shapeElement.GetRawText()}, not an array");
        }
        var shape = new int[shapeElement.GetArrayLength()];
        int d = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt32(out shape[d]) || shape[d] < 0)
            {
                throw new ModelFormatException(path, $"tensor '{name}' has shape {shapeElement.GetRawText()}; dimensions must be non-negative integers");
            }
            d++;
        }
        long count;
        try
        {
            count = NamedTensor.ElementCount(shape);
        }
        catch (ArgumentException)
        {
            throw new ModelFormatException(path, $"tensor '{name}' has shape {shapeElement.GetRawText()}, too many values for an array");
        }

        if (offsetsElement.ValueKind != JsonValueKind.Array
            || offsetsElement.GetArrayLength() != 2
            || !TryGetOffset(offsetsElement[0], out long begin)
            || !TryGetOffset(offsetsElement[1], out long end))
        {
            throw new ModelFormatException(path, $"tensor '{name}' has data_offsets {offsetsElement.GetRawText()}; they must be two non-negative integers");
        }
        if (end < begin)
        {
            throw new ModelFormatException(path, $"tensor '{name}' has data_offsets [{begin}, {end}], ending before they begin");
        }
        if (end - begin != count * sizeof(float))
        {
            throw new ModelFormatException(path, $"tensor '{name}' has data_offsets [{begin}, {end}] ({end - begin} bytes) but shape {shapeElement.GetRawText()} needs {count * sizeof(float)} bytes");
        }
        if (end > dataLength)
        {
            throw new ModelFormatException(path, $"tensor '{name}' has data_offsets [{begin}, {end}] beyond the {dataLength} bytes of data");
        }
        return new HeaderEntry(name, shape, (int)count, begin, end, index);

        void SetOnce(ref JsonElement? slot, JsonProperty field)
        {
            if (slot is not null)
            {
                throw new ModelFormatException(path, $"tensor '{name}' has field '{field.Name}' twice");
            }
            slot = field.Value;
        }
    }

    private static bool TryGetOffset(JsonElement element, out long offset)
    {
        offset = 0;
        return element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out offset) && offset >= 0;
    }
}
