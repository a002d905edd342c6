using System.Security.Cryptography;
using Convnet.Cli.Datasets;
using Convnet.Data;
using Convnet.Tensors;
using Convnet.Tests.Data;
using Convnet.Images;
using Xunit;

namespace Convnet.Tests.Cli;

/// <summary><c>convnet data</c>'s sets and image folder trees, on small counts made here.</summary>
public sealed class CliDataTests
{
    [Fact]
    public void Shapes_are_deterministic_balanced_and_named()
    {
        var first = Shapes.Generate(60, seed: 1);
        var again = Shapes.Generate(60, seed: 1);
        var prefix = Shapes.Generate(13, seed: 1);
        var other = Shapes.Generate(60, seed: 2);

        Assert.Equal(Shape.Image(32, 32, 3), first.SampleShape);
        Assert.Equal(["circle", "cross", "ring", "square", "star", "triangle"], first.ClassNames);
        Assert.Equal(SHA256.HashData(first.Pixels), SHA256.HashData(again.Pixels));
        Assert.Equal(first.Labels, again.Labels);
        Assert.Equal(first.Pixels[..prefix.Pixels.Length], prefix.Pixels);
        Assert.NotEqual(first.Pixels, other.Pixels);
        Assert.Equal(Enumerable.Range(0, 60).Select(i => (byte)(i % 6)), first.Labels!);
        Assert.Equal((Shapes.TrainCount, Shapes.TestCount), (12_000, 2_400));
    }

    [Fact]
    public void Every_shape_stands_out_in_colour_from_its_background()
    {
        var data = Shapes.Generate(120, seed: 3);
        for (int i = 0; i < data.Count; i++)
        {
            var image = data.Image(i);
            // The image is no flat colour: its values spread over more than the noise and the gradient alone.
            int spread = 0;
            for (int c = 0; c < 3; c++)
            {
                int min = 255, max = 0;
                for (int p = c; p < image.Length; p += 3)
                {
                    min = Math.Min(min, image[p]);
                    max = Math.Max(max, image[p]);
                }
                spread = Math.Max(spread, max - min);
            }
            Assert.True(spread > 60, $"image {i} ({data.ClassName(data.Label(i))}) spans only {spread}");
        }
    }

    private static Dataset Labelled(Shape shape, byte[] labels, IReadOnlyList<string>? names)
    {
        var pixels = new byte[labels.Length * shape.Size];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)(i * 37 + i / 7);
        }
        return new Dataset(pixels, labels, shape, names);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void A_folder_tree_has_a_folder_per_class_and_the_samples_in_their_order(int channels)
    {
        using var dir = new TempDir();
        var data = Labelled(Shape.Image(5, 4, channels), [2, 0, 2, 1, 0, 2], channels == 1 ? null : ["b", "a c", "é"]);
        string root = dir.File("train");

        ImageFolderWriter.Write(data, root);

        string[] classes = channels == 1 ? ["0", "1", "2"] : ["b", "a c", "é"];
        Assert.Equal(classes.Order(StringComparer.Ordinal), Directory.GetDirectories(root).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(["00001.png", "00003.png", "00006.png"], Directory.GetFiles(Path.Combine(root, classes[2])).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(["00002.png", "00005.png"], Directory.GetFiles(Path.Combine(root, classes[0])).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(data.Image(2).ToArray(), ImageDecoder.Decode(Path.Combine(root, classes[2], "00003.png"), channels));
        Assert.Equal(data.Image(3).ToArray(), ImageDecoder.Decode(Path.Combine(root, classes[1], "00004.png"), channels));
        Assert.Equal([root], Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void The_image_folder_loader_reads_a_written_tree_back_in_class_order()
    {
        using var dir = new TempDir();
        var data = Shapes.Generate(24, seed: 5);
        string root = dir.File("train");

        ImageFolderWriter.Write(data, root);
        var read = ImageFolder.Load(root, new ImageFolderOptions { Threads = 1 }).Data;

        // Keras's order: classes in ordinal order, then each class's files in ordinal order, i.e. the original order.
        int[] order = [.. Enumerable.Range(0, data.Count).OrderBy(i => data.Label(i))];
        Assert.Equal(data.ClassNames, read.ClassNames);
        Assert.Equal(data.SampleShape, read.SampleShape);
        Assert.Equal(data.Subset(order).Pixels, read.Pixels);
        Assert.Equal(data.Subset(order).Labels, read.Labels);
    }

    [Fact]
    public void Writing_over_an_existing_folder_or_with_a_bad_class_name_leaves_nothing_behind()
    {
        using var dir = new TempDir();
        var data = Labelled(Shape.Image(2, 2, 1), [0, 1], null);
        string existing = dir.File("train");
        Directory.CreateDirectory(existing);
        File.WriteAllText(Path.Combine(existing, "mine.txt"), "keep");

        Assert.Throws<IOException>(() => ImageFolderWriter.Write(data, existing));
        Assert.Throws<ArgumentException>(() => ImageFolderWriter.Write(Labelled(Shape.Image(2, 2, 1), [0, 1], ["ok", "a/b"]), dir.File("test")));

        Assert.Equal([existing], Directory.GetFileSystemEntries(dir.Path));
        Assert.Equal(["mine.txt"], Directory.GetFileSystemEntries(existing).Select(Path.GetFileName));
    }

    [Fact]
    public void A_cancelled_write_leaves_no_folder()
    {
        using var dir = new TempDir();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() => ImageFolderWriter.Write(Shapes.Generate(12, 1), dir.File("train"), cancelled.Token));

        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void Data_refuses_an_unknown_set_and_a_file_as_folder()
    {
        using var dir = new TempDir();
        string file = dir.Write("file", "x");

        var unknown = CliHarness.Run("data", "fashion", "--dir", dir.File("d"));
        var notFolder = CliHarness.Run("data", "shapes", "--dir", file);

        Assert.Equal((1, "error: unknown data set 'fashion': choose mnist, fashion-mnist or shapes\n"), (unknown.ExitCode, unknown.Err));
        Assert.Equal(1, notFolder.ExitCode);
        Assert.Contains($"'{file}': it is a file, not a folder", notFolder.Err);
        Assert.Equal(["file"], Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Data_does_nothing_when_both_folders_exist()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("train"));
        Directory.CreateDirectory(dir.File("test"));

        var result = CliHarness.Succeeds("data", "shapes", "--dir", dir.Path);

        Assert.Contains("nothing to do", result.Out);
        Assert.Empty(Directory.GetFileSystemEntries(dir.File("train")));
    }
}
