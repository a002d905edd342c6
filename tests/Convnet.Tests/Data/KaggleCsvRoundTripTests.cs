using Convnet.Data;
using FsCheck.Xunit;
using Xunit;
using Convnet.IO;

namespace Convnet.Tests.Data;

public sealed class KaggleCsvRoundTripTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(37, 2)]
    [InlineData(200, 3)]
    public void Labelled_round_trip_keeps_every_byte(int count, int seed)
    {
        using var dir = new TempDir();
        var data = CsvSamples.RandomDataset(count, seed);
        string path = dir.File("train.csv");

        KaggleCsv.WriteLabelled(path, data);
        var back = KaggleCsv.ReadLabelled(path);

        Assert.Equal(KaggleCsv.ImageShape, back.SampleShape);
        Assert.Equal(data.Count, back.Count);
        Assert.Equal(data.Pixels, back.Pixels);
        Assert.Equal(data.Labels, back.Labels);
    }

    [Theory]
    [InlineData(1, 4)]
    [InlineData(53, 5)]
    public void Unlabelled_round_trip_keeps_every_byte(int count, int seed)
    {
        using var dir = new TempDir();
        var data = CsvSamples.RandomDataset(count, seed, labelled: false);
        string path = dir.File("test.csv");

        KaggleCsv.WriteUnlabelled(path, data);
        var back = KaggleCsv.ReadUnlabelled(path);

        Assert.False(back.HasLabels);
        Assert.Equal(data.Pixels, back.Pixels);
    }

    [Fact]
    public void Written_files_match_the_kaggle_text_format()
    {
        using var dir = new TempDir();
        var data = CsvSamples.RandomDataset(4, 6);
        string labelled = dir.File("train.csv");
        string unlabelled = dir.File("test.csv");

        KaggleCsv.WriteLabelled(labelled, data);
        KaggleCsv.WriteUnlabelled(unlabelled, data);

        Assert.Equal(CsvSamples.Text(CsvSamples.LabelledHeader, CsvSamples.Rows(data, true)), File.ReadAllText(labelled));
        Assert.Equal(CsvSamples.Text(CsvSamples.UnlabelledHeader, CsvSamples.Rows(data, false)), File.ReadAllText(unlabelled));
    }

    [Fact]
    public void Pixel_i_is_row_i_div_28_column_i_mod_28()
    {
        using var dir = new TempDir();
        var rows = CsvSamples.Rows(CsvSamples.RandomDataset(1, 7), labelled: true);
        for (int i = 0; i < 784; i++)
        {
            rows[0][i + 1] = "0";
        }
        rows[0][1 + 3 * 28 + 5] = "200";
        string path = dir.Write("one.csv", CsvSamples.Text(CsvSamples.LabelledHeader, rows));

        var data = KaggleCsv.ReadLabelled(path);

        Assert.Equal(200, data.Image(0)[(3 * data.SampleShape.Width + 5) * data.SampleShape.Channels]);
        Assert.Equal(1, data.Image(0).ToArray().Count(b => b != 0));
    }

    [Fact]
    public void Unlabelled_reader_accepts_a_labelled_file_and_drops_the_labels()
    {
        using var dir = new TempDir();
        var data = CsvSamples.RandomDataset(5, 8);
        string path = dir.File("train.csv");
        KaggleCsv.WriteLabelled(path, data);

        var back = KaggleCsv.ReadUnlabelled(path);
        var either = KaggleCsv.Read(path);

        Assert.False(back.HasLabels);
        Assert.Equal(data.Pixels, back.Pixels);
        Assert.Equal(data.Labels, either.Labels);
    }

    [Fact]
    public void Labels_round_trip_with_image_ids_from_1()
    {
        using var dir = new TempDir();
        byte[] labels = [3, 0, 9, 9, 1, 7, 2, 5, 8, 4, 6, 0];
        string path = dir.File("submission.csv");

        KaggleCsv.WriteLabels(path, labels);

        Assert.Equal(labels, KaggleCsv.ReadLabels(path));
        Assert.StartsWith("ImageId,Label\n1,3\n2,0\n3,9\n", File.ReadAllText(path));
        Assert.EndsWith("\n12,0\n", File.ReadAllText(path));
    }

    [Property(MaxTest = 25)]
    public bool Any_labels_round_trip(byte[] raw)
    {
        byte[] labels = [.. (raw ?? []).Select(b => (byte)(b % 10)), 5];
        using var dir = new TempDir();
        string path = dir.File("labels.csv");
        KaggleCsv.WriteLabels(path, labels);
        return KaggleCsv.ReadLabels(path).AsSpan().SequenceEqual(labels);
    }

    [Fact]
    public void Writers_replace_an_existing_file_and_leave_no_temporary_files()
    {
        using var dir = new TempDir();
        string path = dir.Write("train.csv", "old contents that are longer than nothing\n");
        var data = CsvSamples.RandomDataset(3, 9);

        KaggleCsv.WriteLabelled(path, data);
        KaggleCsv.WriteLabels(dir.File("labels.csv"), data.Labels);

        Assert.Equal(data.Pixels, KaggleCsv.ReadLabelled(path).Pixels);
        Assert.Equal(["labels.csv", "train.csv"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_failed_write_leaves_the_old_file_and_no_temporary_file()
    {
        using var dir = new TempDir();
        string path = dir.Write("train.csv", "old\n");
        var wrongShape = new Dataset(new byte[10], new byte[1], Convnet.Tensors.Shape.Image(2, 5, 1));

        Assert.Throws<ArgumentException>(() => KaggleCsv.WriteLabelled(path, wrongShape));
        Assert.Throws<ArgumentException>(() => KaggleCsv.WriteLabelled(path, CsvSamples.RandomDataset(2, 1, labelled: false)));

        Assert.Equal("old\n", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Writers_create_the_folder()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "a", "b", "test.csv");

        KaggleCsv.WriteUnlabelled(path, CsvSamples.RandomDataset(2, 10));

        Assert.Equal(2, KaggleCsv.ReadUnlabelled(path).Count);
    }

    [Fact]
    public void An_uncommitted_atomic_file_leaves_the_old_file_and_no_temporary_file()
    {
        using var dir = new TempDir();
        string path = dir.Write("train.csv", "old\n");

        using (var file = AtomicFile.Create(path))
        {
            file.Stream.Write("half a fi"u8);
        }

        Assert.Equal("old\n", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir.Path));
    }
}
