using Convnet.Data;
using Xunit;

namespace Convnet.Tests.Data;

/// <summary>Inputs found by fuzzing the CSV readers (fuzz/README.md), kept so they stay fixed.</summary>
public sealed class KaggleCsvFuzzFindingTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Blank_lines_do_not_size_the_pixel_buffer()
    {
        // One row and a megabyte of blank lines: the buffer was sized by the line breaks, 784 bytes
        // each, and took 784 MB for a 1 MB file.
        string path = _dir.Write("blank-lines.csv", CsvSamples.Labelled(count: 1) + new string('\n', 1 << 20));

        long before = GC.GetAllocatedBytesForCurrentThread();
        var data = KaggleCsv.ReadLabelled(path);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(1, data.Count);
        Assert.Equal(KaggleCsv.PixelCount, data.Pixels.Length);
        Assert.True(allocated < 64L << 20, $"reading a 1 MB file allocated {allocated:N0} bytes");
    }

    [Fact]
    public void Blank_lines_between_rows_still_read_every_row()
    {
        // The bound on the row count from the file size must never cut real rows short.
        var rows = CsvSamples.Labelled(count: 5).Split('\n');
        string text = string.Join("\n\n\n", rows);
        string path = _dir.Write("spaced.csv", text);

        var data = KaggleCsv.ReadLabelled(path);

        Assert.Equal(5, data.Count);
        Assert.Equal(KaggleCsv.ReadLabelled(_dir.Write("plain.csv", CsvSamples.Labelled(count: 5))).Pixels, data.Pixels);
    }
}
