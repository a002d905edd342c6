using System.Text;
using Convnet.Data;
using Convnet.Tensors;
using Xunit;

namespace Convnet.Tests.Data;

/// <summary>Kaggle-format CSVs beyond the digits: other square sizes, 1-based pixel columns, labels that are class names.</summary>
public sealed class KaggleCsvClassNameTests
{
    /// <summary>A CSV of <paramref name="rows"/> (label, then pixels) with the header for <paramref name="pixels"/> columns from <paramref name="firstNumber"/>.</summary>
    private static string Csv(int pixels, IEnumerable<IEnumerable<string>> rows, int firstNumber = 0, bool labelled = true)
    {
        var header = Enumerable.Range(firstNumber, pixels).Select(i => $"pixel{i}");
        return CsvSamples.Text(string.Join(',', labelled ? header.Prepend("label") : header), rows);
    }

    private static IEnumerable<string> Row(string label, IEnumerable<int> pixels) => pixels.Select(p => p.ToString()).Prepend(label);

    [Fact]
    public void A_16_by_16_file_reads_as_16x16x1_images_pixel_for_pixel()
    {
        using var dir = new TempDir();
        var random = new Random(3);
        int[][] images = [.. Enumerable.Range(0, 5).Select(_ => Enumerable.Range(0, 256).Select(_ => random.Next(256)).ToArray())];
        string path = dir.Write("16.csv", Csv(256, images.Select((p, i) => Row($"{i % 3}", p))));

        var data = KaggleCsv.ReadLabelled(path);

        Assert.Equal(Shape.Image(16, 16, 1), data.SampleShape);
        Assert.Equal(images.SelectMany(p => p).Select(p => (byte)p), data.Pixels);
        Assert.Equal([0, 1, 2, 0, 1], data.Labels);
        Assert.Null(data.ClassNames);
    }

    [Fact]
    public void One_based_pixel_columns_read_as_zero_based_ones()
    {
        using var dir = new TempDir();
        int[][] images = [[1, 2, 3, 4, 5, 6, 7, 8, 9], [9, 8, 7, 6, 5, 4, 3, 2, 1]];
        string zero = dir.Write("zero.csv", Csv(9, images.Select(p => Row("4", p))));
        string one = dir.Write("one.csv", Csv(9, images.Select(p => Row("4", p)), firstNumber: 1));
        string unlabelled = dir.Write("test.csv", Csv(9, images.Select(p => p.Select(v => v.ToString())), firstNumber: 1, labelled: false));

        var a = KaggleCsv.ReadLabelled(zero);
        var b = KaggleCsv.ReadLabelled(one);
        var c = KaggleCsv.Read(unlabelled);

        Assert.Equal(Shape.Image(3, 3, 1), b.SampleShape);
        Assert.Equal(a.Pixels, b.Pixels);
        Assert.Equal(a.Labels, b.Labels);
        Assert.Equal(a.Pixels, c.Pixels);
        Assert.False(c.HasLabels);
    }

    [Fact]
    public void One_based_columns_that_skip_a_number_are_refused_at_the_column()
    {
        using var dir = new TempDir();
        string path = dir.Write("gap.csv", "label,pixel1,pixel2,pixel4,pixel5\nx,1,2,3,4\n");

        var e = Assert.Throws<DataFormatException>(() => KaggleCsv.ReadLabelled(path));

        Assert.Equal(4, e.Column);
        Assert.Contains("'pixel4', expected 'pixel3'", e.Message);
    }

    [Fact]
    public void Text_labels_become_classes_named_in_ordinal_order()
    {
        using var dir = new TempDir();
        string[] labels = ["dog", "cat", "Zebra", "dog", "Ärmel", "cat"];
        string path = dir.Write("named.csv", Csv(4, labels.Select((l, i) => Row(l, [i, i, i, i]))));

        var data = KaggleCsv.ReadLabelled(path);

        // Ordinal: upper-case ASCII before lower-case, non-ASCII last.
        Assert.Equal(["Zebra", "cat", "dog", "Ärmel"], data.ClassNames);
        Assert.Equal([2, 1, 0, 2, 3, 1], data.Labels);
        Assert.Equal(4, data.ClassCount());
        Assert.Equal([0, 0, 0, 0, 1, 1, 1, 1], data.Pixels[..8]);
    }

    [Fact]
    public void Numbers_mixed_with_text_are_all_text_and_numbers_alone_stay_numbers()
    {
        using var dir = new TempDir();
        string mixed = dir.Write("mixed.csv", Csv(1, new[] { "1", "cat", "10", "2", "1" }.Select(l => Row(l, [0]))));
        string numbers = dir.Write("numbers.csv", Csv(1, new[] { "12", "0", "255", "007" }.Select(l => Row(l, [0]))));

        var text = KaggleCsv.ReadLabelled(mixed);
        var numeric = KaggleCsv.ReadLabelled(numbers);

        Assert.Equal(["1", "10", "2", "cat"], text.ClassNames);
        Assert.Equal([0, 3, 1, 2, 0], text.Labels);
        Assert.Null(numeric.ClassNames);
        Assert.Equal([12, 0, 255, 7], numeric.Labels);
    }

    [Fact]
    public void A_quoted_label_may_hold_commas_and_quotes()
    {
        using var dir = new TempDir();
        string path = dir.Write("quoted.csv", "label,pixel0,pixel1,pixel2,pixel3\n\"shirt, long\",1,2,3,4\n\"say \"\"hi\"\"\",5,6,7,8\nplain,9,10,11,12\n");

        var data = KaggleCsv.ReadLabelled(path);

        Assert.Equal(["plain", "say \"hi\"", "shirt, long"], data.ClassNames);
        Assert.Equal([2, 1, 0], data.Labels);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], data.Pixels);
    }

    [Fact]
    public void Exactly_256_classes_are_accepted()
    {
        using var dir = new TempDir();
        string path = dir.Write("256.csv", Csv(1, Enumerable.Range(0, 256).Select(i => Row($"c{i}", [i]))));

        var data = KaggleCsv.ReadLabelled(path);

        Assert.Equal(256, data.ClassNames!.Count);
        Assert.Equal("c0", data.ClassName(data.Labels![0]));
        Assert.Equal("c255", data.ClassName(data.Labels![255]));
    }

    [Fact]
    public void A_named_dataset_round_trips_through_WriteLabelled()
    {
        using var dir = new TempDir();
        var random = new Random(9);
        var pixels = new byte[7 * 25];
        random.NextBytes(pixels);
        string[] names = ["a,b", "plain", "quote\"d", "Ärmel"];
        var data = new Dataset(pixels, [0, 1, 2, 3, 3, 2, 1], Shape.Image(5, 5, 1), names);
        string path = dir.File("named.csv");

        KaggleCsv.WriteLabelled(path, data);
        var back = KaggleCsv.ReadLabelled(path);

        Assert.Equal(data.Pixels, back.Pixels);
        Assert.Equal(data.Labels, back.Labels);
        Assert.Equal(names, back.ClassNames);
        Assert.StartsWith("label,pixel0,", File.ReadAllText(path));
    }

    [Fact]
    public void The_digits_submission_is_byte_for_byte_the_Kaggle_format()
    {
        using var dir = new TempDir();
        string path = dir.File("submission.csv");

        KaggleCsv.WriteLabels(path, [7, 0, 9, 3]);

        Assert.Equal("ImageId,Label\n1,7\n2,0\n3,9\n4,3\n"u8.ToArray(), File.ReadAllBytes(path));
    }

    [Fact]
    public void A_submission_with_class_names_holds_the_names_and_reads_back_by_name()
    {
        using var dir = new TempDir();
        string path = dir.File("submission.csv");
        string[] names = ["Bag", "T-shirt, top", "Trouser"];

        KaggleCsv.WriteLabels(path, [2, 0, 1, 0], names);

        Assert.Equal("ImageId,Label\n1,Trouser\n2,Bag\n3,\"T-shirt, top\"\n4,Bag\n", File.ReadAllText(path, Encoding.UTF8));
        Assert.Equal([2, 0, 1, 0], KaggleCsv.ReadLabels(path, names));
        // Another model's order: the same names, other indices.
        Assert.Equal([0, 2, 1, 2], KaggleCsv.ReadLabels(path, ["Trouser", "T-shirt, top", "Bag"]));
    }

    [Fact]
    public void A_label_that_is_not_a_class_of_the_model_is_refused_naming_file_line_and_label()
    {
        using var dir = new TempDir();
        string path = dir.Write("labels.csv", "ImageId,Label\n1,Bag\n2,Sock\n");

        var e = Assert.Throws<DataFormatException>(() => KaggleCsv.ReadLabels(path, ["Bag", "Trouser"]));

        Assert.Equal($"{path}: line 3, column 2 (Label): 'Sock' is not one of the 2 classes (Bag, Trouser)", e.Message);
    }

    [Fact]
    public void Labels_beyond_the_models_numbered_classes_are_refused()
    {
        using var dir = new TempDir();
        string path = dir.Write("labels.csv", "ImageId,Label\n1,3\n2,12\n");

        Assert.Equal([3, 12], KaggleCsv.ReadLabels(path, 13));
        var e = Assert.Throws<DataFormatException>(() => KaggleCsv.ReadLabels(path, 12));
        Assert.Contains("'12' is out of range 0-11", e.Message);
    }

    [Fact]
    public void A_submission_and_its_labels_share_one_set_of_names()
    {
        using var dir = new TempDir();
        string submission = dir.Write("s.csv", "ImageId,Label\n1,cat\n2,emu\n3,dog\n");
        string truth = dir.Write("t.csv", "ImageId,Label\n1,cat\n2,dog\n3,dog\n");
        string digits = dir.Write("d.csv", "ImageId,Label\n1,3\n2,5\n3,3\n");

        var (labels, names) = KaggleCsv.ReadLabelFiles(submission, truth);
        var (numbers, none) = KaggleCsv.ReadLabelFiles(digits, digits);

        Assert.Equal(["cat", "dog", "emu"], names);
        Assert.Equal([0, 2, 1], labels[0]);
        Assert.Equal([0, 1, 1], labels[1]);
        Assert.Null(none);
        Assert.Equal([3, 5, 3], numbers[0]);
    }

    [Fact]
    public void A_large_image_file_of_blank_lines_allocates_in_proportion_to_its_size_not_its_line_count()
    {
        using var dir = new TempDir();
        // 64×64 images: sized by the line breaks alone, 2 million blank lines would ask for 2 GB.
        string text = Csv(4096, [Row("7", new int[4096])]);
        string path = dir.Write("blank.csv", text + new string('\n', 2_000_000));

        long before = GC.GetAllocatedBytesForCurrentThread();
        var data = KaggleCsv.ReadLabelled(path);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(1, data.Count);
        Assert.Equal(Shape.Image(64, 64, 1), data.SampleShape);
        Assert.True(allocated < 64L << 20, $"{allocated:N0} bytes allocated");
    }

    [Fact]
    public void With_a_models_shape_the_header_must_match_it()
    {
        using var dir = new TempDir();
        string path = dir.Write("16.csv", Csv(256, [Row("1", new int[256])]));

        var e = Assert.Throws<DataFormatException>(() => KaggleCsv.Read(path, imageShape: KaggleCsv.ImageShape));
        var data = KaggleCsv.Read(path, imageShape: Shape.Image(8, 8, 4));

        Assert.Contains("header has 257 columns, expected 785 (label, pixel0..pixel783, images of (28, 28, 1))", e.Message);
        Assert.Equal(Shape.Image(8, 8, 4), data.SampleShape);
    }
}
