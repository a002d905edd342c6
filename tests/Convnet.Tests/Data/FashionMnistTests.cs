using Convnet.Data;
using Xunit;

namespace Convnet.Tests.Data;

public sealed class FashionMnistTests
{
    /// <summary>Writes the four gzipped IDX files of a tiny made-up Fashion-MNIST: 3 training and 2 test images of 2×2.</summary>
    private static void WriteFakePackage(TempDir dir, byte[] trainLabels, byte[] testLabels)
    {
        dir.Write(FashionMnist.TrainImagesFile, IdxTests.Gzip(IdxTests.Images(trainLabels.Length, 2, 2)));
        dir.Write(FashionMnist.TrainLabelsFile, IdxTests.Gzip(IdxTests.Labels(trainLabels)));
        dir.Write(FashionMnist.TestImagesFile, IdxTests.Gzip(IdxTests.Images(testLabels.Length, 2, 2)));
        dir.Write(FashionMnist.TestLabelsFile, IdxTests.Gzip(IdxTests.Labels(testLabels)));
    }

    [Fact]
    public void The_classes_are_zalandos_names_in_ordinal_order()
    {
        Assert.Equal(["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"], FashionMnist.ZalandoNames);
        Assert.Equal(["Ankle boot", "Bag", "Coat", "Dress", "Pullover", "Sandal", "Shirt", "Sneaker", "T-shirt_top", "Trouser"], FashionMnist.ClassNames);
    }

    [Fact]
    public void Reading_relabels_zalandos_numbers_by_name_and_keeps_the_pixels()
    {
        using var dir = new TempDir();
        WriteFakePackage(dir, trainLabels: [0, 9, 1], testLabels: [8, 5]);

        var (train, test) = FashionMnist.Read(dir.Path, verify: false);

        Assert.Equal(FashionMnist.ClassNames, train.ClassNames);
        Assert.Equal(["T-shirt_top", "Ankle boot", "Trouser"], Enumerable.Range(0, 3).Select(i => train.ClassName(train.Label(i))));
        Assert.Equal(["Bag", "Sandal"], Enumerable.Range(0, 2).Select(i => test.ClassName(test.Label(i))));
        Assert.Equal(IdxTests.Images(3, 2, 2)[16..], train.Pixels);
        Assert.Equal(Convnet.Tensors.Shape.Image(2, 2, 1), test.SampleShape);
    }

    [Fact]
    public void The_csv_files_have_the_class_names_as_labels()
    {
        using var dir = new TempDir();
        WriteFakePackage(dir, trainLabels: [0, 9, 1], testLabels: [8, 5]);
        var (train, test) = FashionMnist.Read(dir.Path, verify: false);
        // The Kaggle layout is 28×28: the fake 2×2 images are padded with zeros.
        static Dataset Padded(Dataset d)
        {
            var pixels = new byte[d.Count * KaggleCsv.PixelCount];
            for (int i = 0; i < d.Count; i++)
            {
                d.Image(i).CopyTo(pixels.AsSpan(i * KaggleCsv.PixelCount));
            }
            return new Dataset(pixels, d.Labels, KaggleCsv.ImageShape, d.ClassNames);
        }
        var files = new MnistFiles(Path.Combine(dir.Path, "out"));
        Directory.CreateDirectory(files.DataDirectory);

        FashionMnist.WriteCsv(files, Padded(train), Padded(test), TextWriter.Null);

        string[] trainLines = File.ReadAllLines(files.TrainCsv);
        Assert.StartsWith("label,pixel0,pixel1,", trainLines[0]);
        Assert.Equal(["T-shirt_top", "Ankle boot", "Trouser"], trainLines[1..].Select(line => line.Split(',')[0]));
        Assert.Equal(785, trainLines[1].Split(',').Length);
        Assert.StartsWith("pixel0,", File.ReadAllLines(files.TestCsv)[0]);
        Assert.Equal(["ImageId,Label", "1,Bag", "2,Sandal"], File.ReadAllLines(files.TestLabelsCsv));
    }

    [Fact]
    public void Files_with_other_hashes_are_refused_naming_the_file()
    {
        using var dir = new TempDir();
        WriteFakePackage(dir, trainLabels: [0, 9, 1], testLabels: [8, 5]);

        var e = Assert.Throws<DataFormatException>(() => FashionMnist.Read(dir.Path));

        Assert.Contains("SHA-256 mismatch", e.Message);
        Assert.Contains(FashionMnist.TrainImagesFile, e.FilePath);
    }

    [Fact]
    public void A_missing_package_is_one_line_that_says_what_to_install()
    {
        using var dir = new TempDir();

        var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.WriteCsv(dir.File("out"), TextWriter.Null, dir.File("nowhere")));

        Assert.Contains("Fashion-MNIST is not installed", e.Message);
        Assert.Contains("apt-get install dataset-fashion-mnist", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(Directory.Exists(dir.File("out")));
    }

    [Fact]
    public void Labels_files_quote_names_that_csv_must_quote()
    {
        using var dir = new TempDir();
        string path = dir.File("labels.csv");

        KaggleCsv.WriteLabels(path, [1, 0, 2], ["plain", "with, comma", "say \"hi\""]);

        Assert.Equal(["ImageId,Label", "1,\"with, comma\"", "2,plain", "3,\"say \"\"hi\"\"\""], File.ReadAllLines(path));
    }

    [Fact]
    public void Without_class_names_the_labels_files_are_as_before()
    {
        using var dir = new TempDir();
        string path = dir.File("labels.csv");

        KaggleCsv.WriteLabels(path, [7, 0, 255]);

        Assert.Equal("ImageId,Label\n1,7\n2,0\n3,255\n", File.ReadAllText(path));
    }
}
