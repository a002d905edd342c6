using Convnet.Data;
using Convnet.Saving;
using Convnet.Tests.Data;
using Convnet.Tests.Images;
using Convnet.Tests.Models;
using Xunit;

namespace Convnet.Tests.Cli;

/// <summary>train DIR and evaluate DIR: image folders on the command line.</summary>
public sealed class CliImageFolderTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Digits_written_as_png_class_folders_load_as_the_csv_does_and_train_to_the_same_weights()
    {
        string folder = _dir.File("digits");
        var sorted = ImageTrees.WriteClassFolders(folder, SyntheticDigits.Create(300, seed: 3));
        string csv = _dir.File("digits.csv");
        KaggleCsv.WriteLabelled(csv, sorted);

        var fromCsv = KaggleCsv.ReadLabelled(csv);
        var fromFolder = Convnet.Images.ImageFolder.Load(folder).Data;
        Assert.Equal(fromCsv.Pixels, fromFolder.Pixels);
        Assert.Equal(fromCsv.Labels, fromFolder.Labels);
        Assert.Equal(fromCsv.SampleShape, fromFolder.SampleShape);
        Assert.Equal(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"], fromFolder.ClassNames!);

        // The default recipe's augmentation and validation split, shortened.
        string[] options = ["--epochs", "1", "--batch-size", "32", "--threads", "2", "--seed", "4"];
        string csvModel = _dir.File("csv.safetensors"), folderModel = _dir.File("folder.safetensors");
        CliHarness.Succeeds(["train", csv, "--model", csvModel, .. options]);
        var trained = CliHarness.Succeeds(["train", folder, "--model", folderModel, .. options]);

        var (a, _) = ModelFile.Load(csvModel);
        var (b, metadata) = ModelFile.Load(folderModel);
        using (a)
        using (b)
        {
            Assert.Equal(a.GetWeights(), b.GetWeights());
            Assert.Null(a.ClassNames);
            Assert.Equal(fromFolder.ClassNames, b.ClassNames);
        }
        Assert.Equal("digits", metadata["train_file"]);
        Assert.StartsWith($"Read 300 images of 28×28×1 in 10 classes (0, 1, 2, 3, 4, 5, 6, 7, 8, 9) from {folder} in ", trained.Out, StringComparison.Ordinal);
        Assert.Contains(" images/s); training on 270, validating on 30.", trained.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void A_colour_folder_trains_to_high_accuracy_and_evaluate_names_its_classes()
    {
        string shapes = _dir.File("shapes");
        ImageTrees.ColourShapes(shapes, perClass: 120, side: 24, seed: 5);
        string test = _dir.File("test");
        ImageTrees.ColourShapes(test, perClass: 30, side: 24, seed: 6);
        File.WriteAllText(Path.Combine(shapes, "circle", "notes.txt"), "not an image");
        string model = _dir.File("shapes.safetensors");

        var train = CliHarness.Succeeds("train", shapes, "--model", model, "--arch", "conv16k3-relu,maxpool2,conv32k3-relu,maxpool2,flatten,dense32-relu",
            "--epochs", "20", "--lr", "0.003", "--batch-size", "16", "--augment", "none", "--threads", "2", "--seed", "2");
        var evaluate = CliHarness.Succeeds("evaluate", test, "--model", model);

        Assert.Contains("Read 360 images of 24×24×3 in 3 classes (circle, square, triangle) from " + shapes, train.Out, StringComparison.Ordinal);
        Assert.Contains("Ignored 1 file(s) that are not images in class folders: circle/notes.txt", train.Out, StringComparison.Ordinal);
        var (net, _) = ModelFile.Load(model);
        using (net)
        {
            Assert.Equal(ImageTrees.ShapeClasses, net.ClassNames!);
            Assert.Equal(Tensors.Shape.Image(24, 24, 3), net.InputShape);
        }
        Assert.StartsWith("Read 90 images of 24×24×3 in 3 classes (circle, square, triangle)", evaluate.Out, StringComparison.Ordinal);
        string accuracyLine = evaluate.Out.Split('\n').Single(l => l.StartsWith("Accuracy: ", StringComparison.Ordinal));
        double accuracy = double.Parse(accuracyLine["Accuracy: ".Length..accuracyLine.IndexOf('%')], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(accuracy >= 90, train.Out + evaluate.Out);
        Assert.Contains("triangle", evaluate.Out.Split("Per class")[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_reads_a_folder_at_the_models_size_and_maps_its_classes_by_name()
    {
        string model = CliHarness.TrainModel(_dir); // digits 0-9, no class names, 28×28×1
        string folder = _dir.File("some");
        // Two classes only, at another size and in colour: resized and converted to the model's input.
        ImageTrees.WriteFlat(Path.Combine(folder, "7", "a.png"), 40, 40, 3, value: 10);
        ImageTrees.WriteFlat(Path.Combine(folder, "3", "a.png"), 40, 40, 3, value: 10);

        var result = CliHarness.Succeeds("evaluate", folder, "--model", model);
        var wrongSize = CliHarness.Run("evaluate", folder, "--model", model, "--image-size", "32x32");
        var unknown = CliHarness.Run("evaluate", _dir.File("unknown"), "--model", model);

        Assert.StartsWith($"Read 2 images of 28×28×1 in 10 classes (0, 1, 2, 3, 4, 5, 6, 7, 8, 9) from {folder} in ", result.Out, StringComparison.Ordinal);
        Assert.Equal(1, wrongSize.ExitCode);
        Assert.Equal("error: --image-size 32x32 disagrees with the model, which takes 28×28 images (leave the option out to resize to the model's size)\n", wrongSize.Err);
        Assert.Equal(1, unknown.ExitCode);
    }

    [Fact]
    public void Bad_folders_give_one_line_and_write_no_model()
    {
        string single = _dir.File("single");
        ImageTrees.WriteFlat(Path.Combine(single, "cats", "1.png"), 8, 8);
        string mixed = _dir.File("mixed");
        ImageTrees.WriteFlat(Path.Combine(mixed, "a", "1.png"), 8, 8);
        ImageTrees.WriteFlat(Path.Combine(mixed, "b", "1.png"), 9, 8);
        string model = _dir.File("model.safetensors");

        var one = CliHarness.Run(["train", single, "--model", model, .. CliHarness.TinyTraining]);
        var sizes = CliHarness.Run(["train", mixed, "--model", model, .. CliHarness.TinyTraining]);
        var badSize = CliHarness.Run(["train", mixed, "--model", model, "--image-size", "8by8"]);
        var badMode = CliHarness.Run(["train", mixed, "--model", model, "--color-mode", "cmyk"]);
        string csv = CliHarness.WriteDigits(_dir, "train.csv");
        var csvWithSize = CliHarness.Run(["train", csv, "--model", model, "--image-size", "8x8"]);

        Assert.Equal($"error: {single}: an image folder needs one subfolder per class, at least 2; found only 'cats'\n", one.Err);
        Assert.Equal($"error: {mixed}: the images are not all one size: 2 sizes (height×width): 8×8 (1 image, e.g. a/1.png), 9×8 (1 image, e.g. b/1.png); pass --image-size HxW to resize them all to one size\n", sizes.Err);
        Assert.Equal("error: option '--image-size': must be HxW (height x width in pixels) such as 64x64, got '8by8' (see 'convnet train --help')\n", badSize.Err);
        Assert.Equal("error: option '--color-mode': must be grayscale or rgb, got 'cmyk' (see 'convnet train --help')\n", badMode.Err);
        Assert.Equal($"error: --image-size applies to image folders; {csv} is not a folder (a CSV's images are its rows)\n", csvWithSize.Err);
        Assert.All(new[] { one, sizes, badSize, badMode, csvWithSize }, r => Assert.Equal(1, r.ExitCode));
        Assert.False(File.Exists(model));
    }

    [Fact]
    public void Skip_bad_images_trains_on_the_rest_and_lists_what_it_skipped()
    {
        string folder = _dir.File("digits");
        ImageTrees.WriteClassFolders(folder, SyntheticDigits.Create(40, seed: 3));
        File.WriteAllText(Path.Combine(folder, "4", "broken.png"), "junk");
        string model = _dir.File("model.safetensors");

        var refused = CliHarness.Run(["train", folder, "--model", model, .. CliHarness.TinyTraining]);
        var skipped = CliHarness.Succeeds(["train", folder, "--model", model, "--skip-bad-images", .. CliHarness.TinyTraining]);

        Assert.Equal($"error: {Path.Combine(folder, "4", "broken.png")}: not an image this build can decode (PNG, JPEG, GIF, BMP, WebP) (--skip-bad-images leaves such files out)\n", refused.Err);
        Assert.Contains("Read 40 images of 28×28×1 in 10 classes", skipped.Out, StringComparison.Ordinal);
        Assert.Contains("Skipped 1 file(s) that could not be decoded:\n  4/broken.png: not an image this build can decode (PNG, JPEG, GIF, BMP, WebP)\n", skipped.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_names_the_data_argument_and_the_image_options()
    {
        var train = CliHarness.Succeeds("train", "--help");
        var evaluate = CliHarness.Succeeds("evaluate", "--help");

        foreach (var help in new[] { train.Out, evaluate.Out })
        {
            Assert.Contains("<DATA>", help, StringComparison.Ordinal);
            Assert.Contains("--image-size <HxW>", help, StringComparison.Ordinal);
            Assert.Contains("--color-mode <grayscale|rgb>", help, StringComparison.Ordinal);
            Assert.Contains("--skip-bad-images", help, StringComparison.Ordinal);
        }
    }
}
