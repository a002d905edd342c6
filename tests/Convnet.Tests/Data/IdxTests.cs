using System.Buffers.Binary;
using System.IO.Compression;
using Convnet.Data;
using Xunit;

namespace Convnet.Tests.Data;

public sealed class IdxTests
{
    internal static byte[] Images(int count, int rows, int cols, int extra = 0, uint magic = Idx.ImagesMagic)
    {
        var bytes = new byte[16 + count * rows * cols + extra];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, magic);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4), (uint)count);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(8), (uint)rows);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(12), (uint)cols);
        for (int i = 16; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(i * 7);
        }
        return bytes;
    }

    internal static byte[] Labels(params byte[] labels)
    {
        var bytes = new byte[8 + labels.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, Idx.LabelsMagic);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4), (uint)labels.Length);
        labels.CopyTo(bytes, 8);
        return bytes;
    }

    internal static byte[] Gzip(byte[] bytes)
    {
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Fastest))
        {
            gzip.Write(bytes);
        }
        return memory.ToArray();
    }

    [Fact]
    public void Reads_images_and_labels_as_a_dataset()
    {
        using var dir = new TempDir();
        byte[] images = Images(3, 4, 5);
        string imagesPath = dir.Write("images", images);
        string labelsPath = dir.Write("labels", Labels(5, 0, 9));

        var data = Idx.ReadMnist(imagesPath, labelsPath);

        Assert.Equal(Convnet.Tensors.Shape.Image(4, 5, 1), data.SampleShape);
        Assert.Equal(3, data.Count);
        Assert.Equal(images[16..], data.Pixels);
        Assert.Equal([5, 0, 9], data.Labels);
    }

    [Fact]
    public void Reads_gzipped_files()
    {
        using var dir = new TempDir();
        byte[] images = Images(2, 3, 3);
        string imagesPath = dir.Write("images.gz", Gzip(images));
        string labelsPath = dir.Write("labels.gz", Gzip(Labels(1, 2)));

        var data = Idx.ReadMnist(imagesPath, labelsPath);

        Assert.Equal(images[16..], data.Pixels);
        Assert.Equal([1, 2], data.Labels);
    }

    public static TheoryData<string, byte[], string> BadImageFiles => new()
    {
        { "bad magic", Images(2, 3, 3, magic: 0x12345678), "bad magic number 0x12345678, expected 0x00000803" },
        { "labels given as images", Labels(1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3), "(an IDX labels file)" },
        { "truncated data", Images(2, 3, 3)[..^4], "truncated: the header says 2 x 3 x 3, which takes 34 bytes, but the file has 30" },
        { "truncated header", Images(2, 3, 3)[..10], "truncated: 10 bytes, shorter than the 16-byte IDX images header" },
        { "extra bytes", Images(2, 3, 3, extra: 5), "too long" },
        { "empty", [], "file is empty" },
        { "zero rows", Images(2, 0, 3), "dimension 1 of the header is 0" },
        { "text file", "label,pixel0,pixel1\n"u8.ToArray(), "bad magic number" },
        { "truncated gzip data", Gzip(Images(2, 3, 3)[..^4]), "truncated: the header says 2 x 3 x 3" },
        { "gzip with extra data", Gzip(Images(2, 3, 3, extra: 1)), "too long" },
        { "corrupt gzip", [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], "corrupt gzip data" },
    };

    [Theory]
    [MemberData(nameof(BadImageFiles))]
    public void Bad_image_files_are_rejected_naming_the_file(string name, byte[] bytes, string part)
    {
        using var dir = new TempDir();
        string path = dir.Write(name.Replace(' ', '-'), bytes);

        var e = Assert.Throws<DataFormatException>(() => Idx.ReadImages(path, out _, out _, out _));

        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(part, e.Message);
        Assert.Equal(0, e.Line);
    }

    [Fact]
    public void A_gzipped_header_that_claims_a_gigabyte_over_a_few_bytes_costs_no_gigabyte()
    {
        using var dir = new TempDir();
        byte[] header = Images(1000, 1000, 1000)[..16];
        string path = dir.Write("huge.gz", Gzip([.. header, 1, 2, 3]));

        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DataFormatException>(() => Idx.ReadImages(path, out _, out _, out _));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Contains("truncated: the header says 1000 x 1000 x 1000, which takes 1000000016 bytes, but the data ends after 19", e.Message);
        Assert.True(allocated < 8 << 20, $"{allocated:N0} bytes allocated");
    }

    [Fact]
    public void A_gzipped_file_larger_than_the_first_chunk_is_read_whole()
    {
        using var dir = new TempDir();
        byte[] images = Images(5, 500, 500);
        string path = dir.Write("big.gz", Gzip(images));

        byte[] pixels = Idx.ReadImages(path, out int rows, out int cols, out int count);

        Assert.Equal((500, 500, 5), (rows, cols, count));
        Assert.Equal(images[16..], pixels);
    }

    [Fact]
    public void Bad_magic_in_a_labels_file_is_rejected()
    {
        using var dir = new TempDir();
        string path = dir.Write("labels", Images(1, 1, 1));

        var e = Assert.Throws<DataFormatException>(() => Idx.ReadLabels(path));

        Assert.Contains("bad magic number 0x00000803 (an IDX images file), expected 0x00000801 (IDX labels)", e.Message);
    }

    [Fact]
    public void A_truncated_labels_file_is_rejected()
    {
        using var dir = new TempDir();
        string path = dir.Write("labels", Labels(1, 2, 3)[..^1]);

        var e = Assert.Throws<DataFormatException>(() => Idx.ReadLabels(path));

        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Mismatched_counts_and_out_of_range_labels_are_rejected()
    {
        using var dir = new TempDir();
        string images = dir.Write("images", Images(3, 2, 2));
        string twoLabels = dir.Write("two", Labels(1, 2));
        string badLabel = dir.Write("bad", Labels(1, 12, 3));

        var count = Assert.Throws<DataFormatException>(() => Idx.ReadMnist(images, twoLabels));
        var range = Assert.Throws<DataFormatException>(() => Idx.ReadMnist(images, badLabel));

        Assert.Equal($"{twoLabels}: has 2 labels but {images} has 3 images", count.Message);
        Assert.Contains("label 12 of item 1 is out of range 0-9", range.Message);
    }

    [Fact]
    public void A_missing_file_is_a_data_format_error()
    {
        using var dir = new TempDir();

        var e = Assert.Throws<DataFormatException>(() => Idx.ReadLabels(dir.File("nope")));

        Assert.Contains("file not found", e.Message);
    }
}
