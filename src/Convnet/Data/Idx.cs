using System.Buffers.Binary;
using System.IO.Compression;
using Convnet.Tensors;

namespace Convnet.Data;

/// <summary>
/// The IDX files of the original MNIST distribution (LeCun et al.,
/// http://yann.lecun.com/exdb/mnist/): a big-endian header, magic 0x00000803 then count, rows
/// and columns for images, magic 0x00000801 then count for labels, followed by one unsigned
/// byte per value. Gzipped files (<c>.gz</c>) are recognised by their content and read as well.
/// </summary>
public static class Idx
{
    /// <summary>The magic number of an IDX images file (unsigned bytes, 3 dimensions).</summary>
    public const uint ImagesMagic = 0x00000803;
    /// <summary>The magic number of an IDX labels file (unsigned bytes, 1 dimension).</summary>
    public const uint LabelsMagic = 0x00000801;

    /// <summary>Reads an images file and its labels file as one dataset of (rows, cols, 1) images with labels 0-9.</summary>
    public static Dataset ReadMnist(string imagesPath, string labelsPath)
    {
        byte[] pixels = ReadImages(imagesPath, out int rows, out int cols, out int count);
        byte[] labels = ReadLabels(labelsPath);
        if (labels.Length != count)
        {
            throw new DataFormatException(labelsPath, $"has {labels.Length} labels but {imagesPath} has {count} images");
        }
        int bad = labels.AsSpan().IndexOfAnyExceptInRange((byte)0, (byte)(KaggleCsv.ClassCount - 1));
        if (bad >= 0)
        {
            throw new DataFormatException(labelsPath, $"label {labels[bad]} of item {bad} is out of range 0-{KaggleCsv.ClassCount - 1}");
        }
        return new Dataset(pixels, labels, Shape.Image(rows, cols, 1));
    }

    /// <summary>Reads an images file: <paramref name="count"/> images of <paramref name="rows"/> x <paramref name="cols"/> bytes, row-major.</summary>
    public static byte[] ReadImages(string path, out int rows, out int cols, out int count)
    {
        byte[] data = Read(path, ImagesMagic, out uint[] sizes);
        count = (int)sizes[0];
        rows = (int)sizes[1];
        cols = (int)sizes[2];
        return data;
    }

    /// <summary>Reads a labels file: one byte per item.</summary>
    public static byte[] ReadLabels(string path) => Read(path, LabelsMagic, out _);

    private static string Kind(uint magic) => magic == ImagesMagic ? "IDX images" : "IDX labels";

    private static byte[] Read(string path, uint magic, out uint[] sizes)
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
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            Span<byte> start = stackalloc byte[2];
            int got = file.ReadAtLeast(start, 2, throwOnEndOfStream: false);
            file.Position = 0;
            bool gzip = got == 2 && start[0] == 0x1F && start[1] == 0x8B;
            using Stream stream = gzip ? new GZipStream(file, CompressionMode.Decompress) : new BufferedStream(file, 1 << 16);
            return ReadBody(path, stream, gzip ? -1 : file.Length, magic, out sizes);
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(path, $"corrupt gzip data: {e.Message}", innerException: e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFormatException(path, $"cannot be read: {e.Message}", innerException: e);
        }
    }

    /// <summary>Reads and checks the header and the data after it; throws <see cref="DataFormatException"/> on any mismatch.</summary>
    /// <param name="path">The file's path, for messages.</param>
    /// <param name="stream">The file's content, positioned at its start (decompressed for a gzipped file).</param>
    /// <param name="fileLength">The length of an uncompressed file, or -1 for a gzipped one.</param>
    /// <param name="magic">The expected magic number, <see cref="ImagesMagic"/> or <see cref="LabelsMagic"/>.</param>
    /// <param name="sizes">The header's dimensions: count (and rows, columns for images).</param>
    private static byte[] ReadBody(string path, Stream stream, long fileLength, uint magic, out uint[] sizes)
    {
        int dimensions = magic == ImagesMagic ? 3 : 1;
        int headerLength = 4 + 4 * dimensions;
        Span<byte> header = stackalloc byte[headerLength];
        int got = stream.ReadAtLeast(header, headerLength, throwOnEndOfStream: false);
        if (got == 0)
        {
            throw new DataFormatException(path, "file is empty");
        }
        if (got >= 4)
        {
            uint found = BinaryPrimitives.ReadUInt32BigEndian(header);
            if (found != magic)
            {
                string known = found == ImagesMagic || found == LabelsMagic ? $" (an {Kind(found)} file)" : "";
                throw new DataFormatException(path, $"bad magic number 0x{found:X8}{known}, expected 0x{magic:X8} ({Kind(magic)})");
            }
        }
        if (got < headerLength)
        {
            throw new DataFormatException(path, $"truncated: {got} bytes, shorter than the {headerLength}-byte {Kind(magic)} header");
        }
        sizes = new uint[dimensions];
        long total = 1;
        for (int i = 0; i < dimensions; i++)
        {
            sizes[i] = BinaryPrimitives.ReadUInt32BigEndian(header[(4 + 4 * i)..]);
            if (sizes[i] > int.MaxValue || (i > 0 && sizes[i] == 0))
            {
                throw new DataFormatException(path, $"dimension {i} of the header is {sizes[i]}");
            }
            total = Math.Min(total * sizes[i], (long)Array.MaxLength + 1);
        }
        string shape = string.Join(" x ", sizes);
        if (total > Array.MaxLength)
        {
            throw new DataFormatException(path, $"the header's size {shape} is too large");
        }
        long expected = headerLength + total;
        if (fileLength >= 0 && fileLength != expected)
        {
            string problem = fileLength < expected ? "truncated" : "too long";
            throw new DataFormatException(path, $"{problem}: the header says {shape}, which takes {expected} bytes, but the file has {fileLength}");
        }
        byte[] data;
        int read;
        if (fileLength >= 0)
        {
            // The length was checked against the header above: allocate it all.
            data = GC.AllocateUninitializedArray<byte>((int)total);
            read = stream.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
        }
        else
        {
            data = ReadGrowing(stream, (int)total, out read);
        }
        if (read < total)
        {
            throw new DataFormatException(path, $"truncated: the header says {shape}, which takes {expected} bytes, but the data ends after {headerLength + read}");
        }
        if (stream.ReadByte() >= 0)
        {
            throw new DataFormatException(path, $"too long: there is data after the {expected} bytes that the header's {shape} takes");
        }
        return data;
    }

    /// <summary>The first chunk of a gzipped file's data; it grows as data arrives.</summary>
    private const int GzipFirstChunk = 1 << 20;

    /// <summary>
    /// Reads up to <paramref name="total"/> bytes from a gzip stream, whose length is unknown until
    /// it ends: the buffer starts at 1 MB and doubles only while data keeps coming, so a header
    /// that claims gigabytes over a few bytes of data costs no more memory than the data.
    /// <paramref name="read"/> is below <paramref name="total"/> when the data ends early.
    /// </summary>
    private static byte[] ReadGrowing(Stream stream, int total, out int read)
    {
        var data = GC.AllocateUninitializedArray<byte>(Math.Min(total, GzipFirstChunk));
        read = 0;
        while (true)
        {
            read += stream.ReadAtLeast(data.AsSpan(read), data.Length - read, throwOnEndOfStream: false);
            if (read < data.Length || data.Length == total)
            {
                return data;
            }
            Array.Resize(ref data, (int)Math.Min(total, 2L * data.Length));
        }
    }
}
