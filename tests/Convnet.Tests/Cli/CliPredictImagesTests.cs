using System.Globalization;
using Convnet.Architecture;
using Convnet.Cli.Commands;
using Convnet.Data;
using Convnet.Images;
using Convnet.Models;
using Convnet.Optimizers;
using Convnet.Saving;
using Convnet.Tensors;
using Convnet.Tests.Data;
using SkiaSharp;
using Xunit;

namespace Convnet.Tests.Cli;

/// <summary>
/// predict of image files and folders (a file,label,probability table) and predict --image beyond
/// digits, with small untrained colour models saved with class names: the format, not the accuracy, is tested.
/// </summary>
public sealed class CliPredictImagesTests
{
    private static readonly string[] Animals = ["cat", "dog", "bird, small"];
    private static readonly Shape Colour = Shape.Image(12, 10, 3);

    /// <summary>An untrained model of <paramref name="input"/> with these classes, saved.</summary>
    private static string SaveModel(TempDir dir, Shape input, IReadOnlyList<string>? names, int classes = 3, string name = "model.safetensors")
    {
        using var model = Architectures.Create("conv4k3-relu,gap", input, classes, seed: 1, threads: 1);
        model.ClassNames = names;
        string path = dir.File(name);
        model.Save(path);
        return path;
    }

    /// <summary>A picture of width × height whose colours depend on <paramref name="seed"/>, in the format its extension says.</summary>
    private static string WriteImage(TempDir dir, string name, int seed, int width = 30, int height = 20)
    {
        string path = dir.File(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        var random = new Random(seed);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                bitmap.SetPixel(x, y, new SKColor((byte)(x * 255 / width), (byte)random.Next(256), (byte)(seed * 40 % 256)));
            }
        }
        var format = Path.GetExtension(name) switch
        {
            ".jpg" or ".jpeg" => SKEncodedImageFormat.Jpeg,
            ".webp" => SKEncodedImageFormat.Webp,
            _ => SKEncodedImageFormat.Png,
        };
        using var data = bitmap.Encode(format, 95);
        File.WriteAllBytes(path, data.ToArray());
        return path;
    }

    /// <summary>A folder of four pictures, two of them in nested folders, and a file that is not a picture.</summary>
    private static string WritePhotos(TempDir dir)
    {
        WriteImage(dir, "photos/z.png", 1);
        WriteImage(dir, "photos/a.jpg", 2, width: 40, height: 40);
        WriteImage(dir, "photos/sub/m.png", 3);
        WriteImage(dir, "photos/sub/deeper/B.webp", 4, width: 9, height: 13);
        dir.Write("photos/notes.txt", "not a picture\n");
        return dir.File("photos");
    }

    /// <summary>An untrained model of MNIST's shape and 10 unnamed classes.</summary>
    private static string DigitModel(TempDir dir) => SaveModel(dir, Shape.Image(28, 28, 1), null, classes: 10, name: "digits.safetensors");

    private static string[][] Rows(string csv) => File.ReadAllLines(csv).Select(l => l.Split(',')).ToArray();

    /// <summary>What the library predicts for these files read at the model's input shape: (label, probability as written).</summary>
    private static List<(string Label, string Probability)> Expected(string modelPath, IEnumerable<string> files)
    {
        using var model = ModelFile.LoadClassifier(modelPath, 1).Model;
        var paths = files.ToList();
        var shape = model.InputShape;
        var pixels = paths.SelectMany(p => ImageDecoder.Decode(p, shape.Channels, shape.Height, shape.Width)).ToArray();
        var probabilities = model.Predict(new Dataset(pixels, null, shape));
        return [.. Enumerable.Range(0, paths.Count).Select(i =>
        {
            var row = probabilities.AsSpan(i * model.Classes, model.Classes);
            int best = Classifier.ArgMax(row);
            return (model.ClassName(best), row[best].ToString("F6", CultureInfo.InvariantCulture));
        })];
    }

    [Fact]
    public void A_folder_gets_one_row_per_image_sorted_relative_to_it_with_the_class_names_the_model_gives()
    {
        using var dir = new TempDir();
        string photos = WritePhotos(dir);
        string model = SaveModel(dir, Colour, Animals);
        string csv = dir.File("predictions.csv");

        var result = CliHarness.Succeeds("predict", photos, "--model", model, "--out", csv);

        var rows = Rows(csv);
        Assert.Equal(["file", "label", "probability"], rows[0]);
        string[] files = ["a.jpg", "sub/deeper/B.webp", "sub/m.png", "z.png"];
        Assert.Equal(files, rows.Skip(1).Select(r => r[0]));
        var expected = Expected(model, files.Select(f => Path.Combine(photos, f)));
        // "bird, small" is quoted in the file, so split on ',' it is two fields.
        var written = File.ReadAllLines(csv).Skip(1).Select(l => (Label: l[(l.IndexOf(',') + 1)..l.LastIndexOf(',')].Trim('"'), Probability: l[(l.LastIndexOf(',') + 1)..])).ToList();
        Assert.Equal(expected, written);
        Assert.StartsWith($"Wrote 4 predictions to {csv}.\n", result.Out, StringComparison.Ordinal);
        // A table of the four: file, label, probability.
        Assert.Contains("sub/deeper/B.webp", result.Out, StringComparison.Ordinal);
        Assert.Contains("probability", result.Out, StringComparison.Ordinal);
    }

    /// <summary>
    /// A 16×16 RGB model trained to tell pictures by their main colour (noisy solid colours), so that
    /// a channel read in the wrong order or a wrong scaling shows as wrong labels.
    /// </summary>
    private static string TrainColourModel(TempDir dir)
    {
        string[] names = ["blue", "green", "red"];
        var shape = Shape.Image(16, 16, 3);
        const int count = 120;
        var random = new Random(3);
        var pixels = new byte[count * shape.Size];
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = (byte)(i % 3);
            int channel = 2 - labels[i]; // blue is channel 2, green 1, red 0
            for (int p = 0; p < 16 * 16; p++)
            {
                for (int c = 0; c < 3; c++)
                {
                    pixels[(i * 256 + p) * 3 + c] = (byte)(c == channel ? 160 + random.Next(96) : random.Next(100));
                }
            }
        }
        using var model = Architectures.Create("conv8k3-relu,gap", shape, 3, seed: 1, threads: 1);
        model.Compile(new Adam(learningRate: 0.02f));
        model.Fit(new Dataset(pixels, labels, shape, names), epochs: 15, batchSize: 16, seed: 1);
        model.ClassNames = names;
        string path = dir.File("colours.safetensors");
        model.Save(path);
        return path;
    }

    private static string WriteSolid(TempDir dir, string name, SKColor colour, int width = 50, int height = 40)
    {
        string path = dir.File(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        bitmap.Erase(colour);
        using var data = bitmap.Encode(Path.GetExtension(name) == ".jpg" ? SKEncodedImageFormat.Jpeg : SKEncodedImageFormat.Png, 95);
        File.WriteAllBytes(path, data.ToArray());
        return path;
    }

    [Fact]
    public void A_trained_colour_model_names_the_colour_of_each_picture()
    {
        using var dir = new TempDir();
        string model = TrainColourModel(dir);
        WriteSolid(dir, "shots/sky.png", new SKColor(40, 60, 220));
        WriteSolid(dir, "shots/leaf.jpg", new SKColor(30, 200, 50));
        WriteSolid(dir, "shots/more/rose.png", new SKColor(230, 20, 40), width: 16, height: 16);
        string csv = dir.File("predictions.csv");

        CliHarness.Succeeds("predict", dir.File("shots"), "--model", model, "--out", csv);

        Assert.Equal(["leaf.jpg,green", "more/rose.png,red", "sky.png,blue"], Rows(csv).Skip(1).Select(r => $"{r[0]},{r[1]}"));
        var image = CliHarness.Succeeds("predict", "--image", dir.File("shots/sky.png"), "--model", model);
        Assert.Contains("Predicted class: blue (", image.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Top_3_adds_the_second_and_third_classes_in_falling_probability()
    {
        using var dir = new TempDir();
        string photos = WritePhotos(dir);
        string model = SaveModel(dir, Colour, ["cat", "dog", "bird"]);
        string csv = dir.File("p.csv");

        CliHarness.Succeeds("predict", photos, "--model", model, "--out", csv, "--top", "3");

        var rows = Rows(csv);
        Assert.Equal(["file", "label", "probability", "label2", "probability2", "label3", "probability3"], rows[0]);
        foreach (var row in rows.Skip(1))
        {
            Assert.Equal(["bird", "cat", "dog"], new[] { row[1], row[3], row[5] }.Order());
            double[] p = [double.Parse(row[2], CultureInfo.InvariantCulture), double.Parse(row[4], CultureInfo.InvariantCulture), double.Parse(row[6], CultureInfo.InvariantCulture)];
            Assert.True(p[0] >= p[1] && p[1] >= p[2], string.Join(',', row));
            Assert.Equal(1.0, p.Sum(), 4);
            Assert.All(row.Where((_, i) => i % 2 == 0 && i > 0), s => Assert.Matches(@"^[01]\.\d{6}$", s));
        }
    }

    [Fact]
    public void Files_given_directly_keep_their_path_and_a_folder_beside_them_is_named_in_front_of_its_files()
    {
        using var dir = new TempDir();
        string photos = WritePhotos(dir);
        string single = WriteImage(dir, "single.png", 9);
        string model = SaveModel(dir, Colour, null);
        string csv = dir.File("p.csv");

        var result = CliHarness.Succeeds("predict", single, photos, "--model", model, "--out", csv);

        var names = Rows(csv).Skip(1).Select(r => r[0]).ToList();
        Assert.Equal(new[] { single, $"{photos}/a.jpg", $"{photos}/sub/deeper/B.webp", $"{photos}/sub/m.png", $"{photos}/z.png" }.Order(StringComparer.Ordinal), names);
        Assert.All(Rows(csv).Skip(1), r => Assert.Contains(r[1], new[] { "0", "1", "2" }));
        Assert.StartsWith($"Wrote 5 predictions to {csv}.", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_named_twice_is_predicted_once()
    {
        using var dir = new TempDir();
        string photos = WritePhotos(dir);
        string model = SaveModel(dir, Colour, Animals);
        string csv = dir.File("p.csv");

        CliHarness.Succeeds("predict", photos, Path.Combine(photos, "z.png"), Path.Combine(photos, "sub", "..", "z.png"), "--model", model, "--out", csv);

        var names = Rows(csv).Skip(1).Select(r => r[0]).ToList();
        Assert.Equal(4, names.Count);
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
        Assert.Single(names, n => n.EndsWith("z.png", StringComparison.Ordinal));
    }

    [Fact]
    public void A_picture_that_cannot_be_decoded_stops_the_run_naming_it_and_leaves_the_old_predictions()
    {
        using var dir = new TempDir();
        string photos = WritePhotos(dir);
        string bad = dir.Write("photos/sub/broken.png", "this is no PNG\n");
        string model = SaveModel(dir, Colour, Animals);
        string csv = dir.Write("predictions.csv", "file,label,probability\nold.png,cat,1.000000\n");

        var result = CliHarness.Run("predict", photos, "--model", model, "--out", csv);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: ", result.Err, StringComparison.Ordinal);
        Assert.Contains(bad, result.Err, StringComparison.Ordinal);
        Assert.Single(result.Err.TrimEnd('\n').Split('\n'));
        Assert.Equal("file,label,probability\nold.png,cat,1.000000\n", File.ReadAllText(csv));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp-*"));
    }

    [Fact]
    public void Skip_bad_images_lists_the_picture_and_writes_no_row_for_it()
    {
        using var dir = new TempDir();
        string photos = WritePhotos(dir);
        dir.Write("photos/sub/broken.png", "this is no PNG\n");
        string model = SaveModel(dir, Colour, Animals);
        string csv = dir.File("p.csv");

        var result = CliHarness.Succeeds("predict", photos, "--model", model, "--out", csv, "--skip-bad-images");

        Assert.Equal(["a.jpg", "sub/deeper/B.webp", "sub/m.png", "z.png"], Rows(csv).Skip(1).Select(r => r[0]));
        Assert.Contains("Skipped 1 file(s) that could not be decoded:\n  sub/broken.png: ", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void More_than_20_pictures_get_the_summary_without_the_table()
    {
        using var dir = new TempDir();
        for (int i = 0; i < 21; i++)
        {
            WriteImage(dir, $"many/{i:D2}.png", i, width: 10, height: 12);
        }
        string model = SaveModel(dir, Colour, Animals);
        string csv = dir.File("p.csv");

        var result = CliHarness.Succeeds("predict", dir.File("many"), "--model", model, "--out", csv);

        Assert.Equal($"Wrote 21 predictions to {csv}.\n", result.Out);
        Assert.Equal(22, File.ReadAllLines(csv).Length);
    }

    [Theory]
    [InlineData("--top", "4", "error: --top must be at most the model's 3 classes, got 4")]
    [InlineData("--top", "0", "error: --top must be at least 1, got 0")]
    public void Top_must_be_between_1_and_the_classes(string option, string value, string message)
    {
        using var dir = new TempDir();
        string photos = WritePhotos(dir);
        string model = SaveModel(dir, Colour, Animals);

        var result = CliHarness.Run("predict", photos, "--model", model, "--out", dir.File("p.csv"), option, value);

        Assert.Equal((1, message + "\n"), (result.ExitCode, result.Err));
        Assert.False(File.Exists(dir.File("p.csv")));
    }

    [Theory]
    [InlineData("--image-size", "12x10", null)]
    [InlineData("--color-mode", "rgb", null)]
    [InlineData("--image-size", "16x16", "error: --image-size 16x16 disagrees with the model, which takes 12×10 images (leave the option out to resize to the model's size)")]
    [InlineData("--color-mode", "grayscale", "error: --color-mode grayscale disagrees with the model, which takes rgb images")]
    public void Image_size_and_colour_mode_may_only_repeat_the_models(string option, string value, string? message)
    {
        using var dir = new TempDir();
        string photos = WritePhotos(dir);
        string model = SaveModel(dir, Colour, Animals);

        var result = CliHarness.Run("predict", photos, "--model", model, "--out", dir.File("p.csv"), option, value);

        Assert.Equal(message is null ? (0, "") : (1, message + "\n"), (result.ExitCode, result.Err));
        Assert.Equal(message is null, File.Exists(dir.File("p.csv")));
    }

    [Fact]
    public void A_csv_and_pictures_together_are_refused()
    {
        using var dir = new TempDir();
        string photos = WritePhotos(dir);
        string test = CliHarness.WriteDigits(dir, "test.csv", labelled: false);

        var result = CliHarness.Run("predict", test, photos, "--model", DigitModel(dir), "--out", dir.File("p.csv"));

        Assert.Equal((1, $"error: '{test}' is a CSV; predict reads either one CSV or image files and folders, not both\n"), (result.ExitCode, result.Err));
    }

    [Theory]
    [InlineData("--top", "2", "error: --top is for image files and folders; a CSV ('{0}') gets a Kaggle submission, one label per image")]
    [InlineData("--skip-bad-images", null, "error: --skip-bad-images applies to image files and folders; {0} is a CSV (its images are its rows)")]
    [InlineData("--image-size", "28x28", "error: --image-size applies to image files and folders; {0} is a CSV (its images are its rows)")]
    public void Image_options_with_a_csv_are_refused(string option, string? value, string message)
    {
        using var dir = new TempDir();
        string test = CliHarness.WriteDigits(dir, "test.csv", labelled: false);
        string[] extra = value is null ? [option] : [option, value];

        var result = CliHarness.Run(["predict", test, "--model", DigitModel(dir), "--out", dir.File("s.csv"), .. extra]);

        Assert.Equal((1, string.Format(CultureInfo.InvariantCulture, message, test) + "\n"), (result.ExitCode, result.Err));
    }

    [Fact]
    public void A_missing_path_among_the_inputs_is_named()
    {
        using var dir = new TempDir();
        string photos = WritePhotos(dir);
        string missing = dir.File("nope");

        var result = CliHarness.Run("predict", photos, missing, "--model", DigitModel(dir), "--out", dir.File("p.csv"));

        Assert.Equal((1, $"error: '{missing}' not found (neither a file nor a folder)\n"), (result.ExitCode, result.Err));
    }

    [Fact]
    public void A_missing_folder_named_with_a_slash_is_called_a_folder_not_a_csv()
    {
        using var dir = new TempDir();
        string missing = dir.File("photos") + "/";

        var result = CliHarness.Run("predict", missing, "--model", DigitModel(dir), "--out", dir.File("p.csv"));

        Assert.Equal((1, $"error: '{missing}' not found (neither a file nor a folder)\n"), (result.ExitCode, result.Err));
    }

    [Fact]
    public void Image_shows_a_colour_model_the_picture_at_its_input_size_and_names_the_best_class()
    {
        using var dir = new TempDir();
        string picture = WriteImage(dir, "photo.jpg", 5, width: 300, height: 200);
        string model = SaveModel(dir, Colour, Animals);

        var result = CliHarness.Succeeds("predict", "--image", picture, "--model", model);

        var (label, probability) = Expected(model, [picture])[0];
        double percent = double.Parse(probability, CultureInfo.InvariantCulture);
        Assert.Contains($"Predicted class: {label} ({percent:P1})", result.Out, StringComparison.Ordinal);
        // Not a terminal: the 12×10 input in shades, two characters a pixel.
        var preview = result.Out.Split('\n').TakeWhile(l => l.Length == 20 && l.All(c => " ░▒▓█".Contains(c))).ToList();
        Assert.Equal(12, preview.Count);
        Assert.All(Animals, name => Assert.Contains(name, result.Out, StringComparison.Ordinal));
        Assert.DoesNotContain("Predicted digit", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Image_refuses_a_truncated_picture_for_a_colour_model_naming_it()
    {
        using var dir = new TempDir();
        byte[] whole = File.ReadAllBytes(WriteImage(dir, "whole.png", 2, width: 64, height: 64));
        string cut = dir.Write("cut.png", whole[..(whole.Length / 2)]);
        string model = SaveModel(dir, Colour, Animals);

        var result = CliHarness.Run("predict", "--image", cut, "--model", model);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith($"error: {cut}: ", result.Err, StringComparison.Ordinal);
        Assert.Single(result.Err.TrimEnd('\n').Split('\n'));
        Assert.Equal("", result.Out);
    }

    [Fact]
    public void Test_time_augmentation_works_on_colour_pictures_and_changes_the_probabilities()
    {
        using var dir = new TempDir();
        string photos = WritePhotos(dir);
        string model = SaveModel(dir, Colour, Animals);

        CliHarness.Succeeds("predict", photos, "--model", model, "--out", dir.File("one.csv"));
        CliHarness.Succeeds("predict", photos, "--model", model, "--out", dir.File("nine.csv"), "--tta", "9");

        var one = Rows(dir.File("one.csv"));
        var nine = Rows(dir.File("nine.csv"));
        Assert.Equal(one.Select(r => r[0]), nine.Select(r => r[0]));
        Assert.NotEqual(one.Skip(1).Select(r => r[^1]), nine.Skip(1).Select(r => r[^1]));
    }

    [Fact]
    public void Image_with_a_28_by_28_gray_model_of_other_classes_resizes_the_picture_instead_of_centring_a_digit()
    {
        using var dir = new TempDir();
        string picture = CliImages.WriteDigitPng(dir, "seven.png", '7', whiteOnBlack: false);
        string[] letters = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
        string model = SaveModel(dir, Shape.Image(28, 28, 1), letters, classes: 10);

        var result = CliHarness.Succeeds("predict", "--image", picture, "--model", model, "--top", "2");

        var (label, _) = Expected(model, [picture])[0];
        Assert.Contains($"Predicted class: {label} (", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void The_digit_rule_takes_28_by_28_gray_models_of_10_classes_unnamed_or_named_0_to_9()
    {
        using var dir = new TempDir();
        var gray = Shape.Image(28, 28, 1);
        string[] digits = [.. Enumerable.Range(0, 10).Select(d => d.ToString(CultureInfo.InvariantCulture))];
        Assert.True(IsDigitModel(SaveModel(dir, gray, null, classes: 10, name: "unnamed.safetensors")));
        Assert.True(IsDigitModel(SaveModel(dir, gray, digits, classes: 10, name: "digits.safetensors")));
        Assert.False(IsDigitModel(SaveModel(dir, gray, [.. digits.Reverse()], classes: 10, name: "reversed.safetensors")));
        Assert.False(IsDigitModel(SaveModel(dir, gray, null, classes: 11, name: "eleven.safetensors")));
        Assert.False(IsDigitModel(SaveModel(dir, Shape.Image(28, 28, 3), null, classes: 10, name: "colour.safetensors")));
        Assert.False(IsDigitModel(SaveModel(dir, Shape.Image(32, 32, 1), null, classes: 10, name: "larger.safetensors")));
    }

    private static bool IsDigitModel(string path)
    {
        using var model = ModelFile.LoadClassifier(path, 1).Model;
        return PredictImages.IsDigitModel(model);
    }

    [Theory]
    [InlineData("--out", "x.csv", "error: --out is not used with --image, which prints its result and writes no file")]
    [InlineData("--skip-bad-images", null, "error: --skip-bad-images is for image files and folders; --image reads its picture at the model's input and refuses one it cannot decode")]
    [InlineData("--color-mode", "rgb", "error: --color-mode is for image files and folders; --image reads its picture at the model's input and refuses one it cannot decode")]
    public void Image_refuses_the_options_of_a_table(string option, string? value, string message)
    {
        using var dir = new TempDir();
        string picture = WriteImage(dir, "p.png", 1);
        string[] extra = value is null ? [option] : [option, value];

        var result = CliHarness.Run(["predict", "--image", picture, "--model", DigitModel(dir), .. extra]);

        Assert.Equal((1, message + "\n"), (result.ExitCode, result.Err));
    }
}
