using System.Text.RegularExpressions;
using Convnet.Data;
using Convnet.IO;
using Convnet.Models;
using Convnet.Saving;
using Convnet.Tensors;
using Convnet.Tests.Data;
using Xunit;
using Xunit.Abstractions;

namespace Convnet.Tests.Cli;

/// <summary>A tiny model trained through the command line on a CSV whose labels are Fashion-MNIST's class names.</summary>
public sealed class NamedModelFixture : IDisposable
{
    private readonly TempDir _dir = new();

    /// <summary>Fashion-MNIST's classes (one character changed: '/' is a fine CSV character, but a comma needs quotes), in ordinal order.</summary>
    public static readonly string[] Names = ["Ankle boot", "Bag", "Coat", "Dress", "Pullover", "Sandal", "Shirt", "Sneaker", "T-shirt, top", "Trouser"];

    public NamedModelFixture()
    {
        var digits = CliHarness.Digits();
        Named = new Dataset(digits.Pixels, digits.Labels, digits.SampleShape, Names);
        TrainCsv = _dir.File("named-train.csv");
        KaggleCsv.WriteLabelled(TrainCsv, Named);
        Path = _dir.File("named.safetensors");
        CliHarness.Succeeds(["train", TrainCsv, "--model", Path, .. CliHarness.TinyTraining]);
        NumberedPath = CliHarness.TrainModel(_dir, "numbered.safetensors");
    }

    /// <summary>The 60 synthetic digits, class d named <see cref="Names"/>[d].</summary>
    public Dataset Named { get; }
    public string TrainCsv { get; }
    public string Path { get; }
    public string NumberedPath { get; }

    public void Dispose() => _dir.Dispose();
}

/// <summary>Class names from a CSV's text labels through train, predict, evaluate, summary and merge.</summary>
public sealed class CliClassNameTests(NamedModelFixture fixture, ITestOutputHelper output) : IClassFixture<NamedModelFixture>
{
    private static readonly string[] Names = NamedModelFixture.Names;

    [Fact]
    public void Train_on_text_labels_keeps_the_names_in_the_model_file()
    {
        var (model, metadata) = ModelFile.LoadClassifier(fixture.Path, threads: 1);
        using (model)
        {
            Assert.Equal(Names, model.ClassNames);
            Assert.Equal(10, model.Classes);
        }
        Assert.Contains("\"T-shirt, top\"", metadata["class_names"]);
    }

    [Fact]
    public void Predict_writes_the_class_names_the_model_predicts()
    {
        using var dir = new TempDir();
        string test = CliHarness.WriteDigits(dir, "test.csv", labelled: false, count: 30, seed: 9);
        string submission = dir.File("submission.csv");

        CliHarness.Succeeds("predict", test, "--model", fixture.Path, "--out", submission);

        var (model, _) = ModelFile.LoadClassifier(fixture.Path, threads: 1);
        int[] expected;
        using (model)
        {
            expected = model.PredictClasses(KaggleCsv.ReadUnlabelled(test));
        }
        string[] lines = File.ReadAllLines(submission);
        Assert.Equal("ImageId,Label", lines[0]);
        Assert.Equal(expected.Select((c, i) => $"{i + 1},{Quote(Names[c])}"), lines[1..]);
        Assert.Equal(expected.Select(c => (byte)c), KaggleCsv.ReadLabels(submission, Names));
    }

    [Fact]
    public void Predict_with_a_numbered_model_writes_digits_as_before()
    {
        using var dir = new TempDir();
        string test = CliHarness.WriteDigits(dir, "test.csv", labelled: false, count: 30, seed: 9);
        string submission = dir.File("submission.csv");

        CliHarness.Succeeds("predict", test, "--model", fixture.NumberedPath, "--out", submission);

        Assert.Matches(@"^ImageId,Label\n(\d+,\d\n){30}$", File.ReadAllText(submission));
    }

    [Fact]
    public void Evaluate_matches_a_csvs_classes_to_the_models_by_name_and_prints_the_names()
    {
        using var dir = new TempDir();
        // Only three of the ten classes: the CSV alone numbers them 0-2 (Bag, Coat, Trouser), the model 1, 2 and 9.
        int[] keep = [.. Enumerable.Range(0, fixture.Named.Count).Where(i => fixture.Named.Labels![i] is 1 or 2 or 9)];
        var subset = fixture.Named.Subset(keep);
        string csv = dir.File("three.csv");
        KaggleCsv.WriteLabelled(csv, subset);
        Assert.Equal(["Bag", "Coat", "Trouser"], KaggleCsv.ReadLabelled(csv).ClassNames);

        var result = CliHarness.Succeeds("evaluate", csv, "--model", fixture.Path);
        output.WriteLine(result.Out);

        var (model, _) = ModelFile.LoadClassifier(fixture.Path, threads: 1);
        int correct;
        using (model)
        {
            var predicted = model.PredictClasses(subset);
            correct = predicted.Where((c, i) => c == subset.Labels![i]).Count();
        }
        Assert.Contains($"({correct:N0} of {keep.Length:N0} correct", result.Out);
        // Every class of the model has its row, by name; none is printed as a number.
        foreach (string name in Names)
        {
            Assert.Contains(name, result.Out);
        }
        Assert.Matches(@"Trouser\s*│\s*[\d.]+\s*│\s*[\d.]+\s*│\s*[\d.]+\s*│\s*6\s*│", result.Out);
        Assert.Matches(@"Ankle boot\s*│\s*0\.0000\s*│\s*0\.0000\s*│\s*0\.0000\s*│\s*0\s*│", result.Out);
        // The matrix's rows name their classes, its columns are their numbers.
        Assert.Matches(@"│ 9 Trouser\s*│(\s*\d+\s*│){10}\n", result.Out);
        Assert.Matches(@"│\s*│ 0 │ 1 │ 2 │ 3 │ 4 │ 5 │ 6 │ 7 │ 8 │ 9 │", result.Out);
    }

    [Fact]
    public void Evaluate_refuses_a_class_the_model_does_not_know_naming_the_file_and_class()
    {
        using var dir = new TempDir();
        var labels = fixture.Named.Labels!.ToArray();
        string csv = dir.File("sock.csv");
        KaggleCsv.WriteLabelled(csv, new Dataset(fixture.Named.Pixels, labels, fixture.Named.SampleShape, [.. Names[..9], "Sock"]));

        var result = CliHarness.Run("evaluate", csv, "--model", fixture.Path);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"{csv}: label 'Sock' is not a class of the model, whose 10 classes are Ankle boot, Bag,", result.Err);
        Assert.DoesNotContain("Exception", result.Err);
    }

    [Fact]
    public void Evaluate_refuses_named_labels_for_a_numbered_model()
    {
        var result = CliHarness.Run("evaluate", fixture.TrainCsv, "--model", fixture.NumberedPath);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"{fixture.TrainCsv}: its labels are class names (Ankle boot, Bag,", result.Err);
        Assert.Contains("the model's 10 classes are numbers 0-9", result.Err);
    }

    [Fact]
    public void Evaluate_with_a_labels_file_of_names_and_a_submission_of_names()
    {
        using var dir = new TempDir();
        string test = dir.File("test.csv");
        KaggleCsv.WriteUnlabelled(test, fixture.Named);
        string labels = dir.File("labels.csv");
        KaggleCsv.WriteLabels(labels, fixture.Named.Labels, Names);
        string submission = dir.File("submission.csv");
        CliHarness.Succeeds("predict", test, "--model", fixture.Path, "--out", submission);

        var withModel = CliHarness.Succeeds("evaluate", test, "--labels", labels, "--model", fixture.Path).Out;
        var withSubmission = CliHarness.Succeeds("evaluate", "--submission", submission, "--labels", labels).Out;

        string accuracy = Regex.Match(withModel, "^Accuracy: .*$", RegexOptions.Multiline).Value;
        Assert.NotEmpty(accuracy);
        Assert.Contains(accuracy, withSubmission);
        Assert.Contains("Trouser", withSubmission);

        string bad = dir.Write("bad-labels.csv", "ImageId,Label\n1,Bag\n2,Sock\n");
        var refused = CliHarness.Run("evaluate", test, "--labels", bad, "--model", fixture.Path);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains($"{bad}: line 3, column 2 (Label): 'Sock' is not one of the 10 classes", refused.Err);
    }

    [Fact]
    public void Summary_prints_the_class_names_or_the_numbers()
    {
        string named = CliHarness.Succeeds("summary", "--model", fixture.Path).Out;
        string numbered = CliHarness.Succeeds("summary", "--model", fixture.NumberedPath).Out;

        Assert.Contains("Classes: 10 (Ankle boot, Bag, Coat, Dress, Pullover, Sandal, Shirt, Sneaker, T-shirt, top, Trouser)\n", named);
        Assert.Contains("Classes: 10 (0-9)\n", numbered);
    }

    [Fact]
    public void Summary_shortens_a_long_list_of_names()
    {
        using var dir = new TempDir();
        var pixels = new byte[200];
        string[] names = [.. Enumerable.Range(0, 200).Select(i => $"class-number-{i:D3}")];
        string csv = dir.File("many.csv");
        KaggleCsv.WriteLabelled(csv, new Dataset(pixels, [.. Enumerable.Range(0, 200).Select(i => (byte)i)], Shape.Image(1, 1, 1), names));
        string model = dir.File("many.safetensors");
        CliHarness.Succeeds(["train", csv, "--model", model, "--arch", "flatten", "--augment", "none", .. CliHarness.TinyTraining]);

        string line = CliHarness.Succeeds("summary", "--model", model).Out.Split('\n').Single(l => l.StartsWith("Classes:", StringComparison.Ordinal));

        Assert.StartsWith("Classes: 200 (class-number-000, class-number-001, ", line);
        Assert.Matches(@", \.\.\. and 19\d more\)$", line);
        Assert.True(line.Length < 160, line);
    }

    [Fact]
    public void Merge_refuses_models_whose_class_names_differ_naming_both_files()
    {
        using var dir = new TempDir();
        string ensemble = dir.File("ensemble.safetensors");

        var result = CliHarness.Run("merge", fixture.Path, fixture.NumberedPath, "--out", ensemble);
        CliHarness.Succeeds("merge", fixture.Path, fixture.Path, "--out", ensemble);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"{fixture.NumberedPath}: the model's classes are numbered, not named, but {fixture.Path}'s are named Ankle boot, Bag,", result.Err);
        var (merged, _) = ModelFile.LoadClassifier(ensemble, threads: 1);
        using (merged)
        {
            Assert.Equal(Names, merged.ClassNames);
        }
    }

    [Fact]
    public void Train_on_a_16x16_csv_with_text_labels_and_flip_then_predict_names()
    {
        using var dir = new TempDir();
        var random = new Random(4);
        string[] animals = ["cat", "dog", "emu"];
        var rows = Enumerable.Range(0, 48).Select(i =>
        {
            int c = i % 3;
            // Each class lights its own band of rows, so that the model has something to learn.
            return Enumerable.Range(0, 256).Select(p => (p / 16 / 6 == c ? 200 + random.Next(56) : random.Next(30)).ToString()).Prepend(animals[c]);
        });
        string csv = dir.Write("animals.csv", CsvSamples.Text("label," + string.Join(',', Enumerable.Range(1, 256).Select(i => $"pixel{i}")), rows));
        string model = dir.File("animals.safetensors");

        string trained = CliHarness.Succeeds(["train", csv, "--model", model, "--augment", "rotation=5,flip", .. CliHarness.Tiny("--epochs", "3")]).Out;
        Assert.Contains("Read 48 images from", trained);
        Assert.Contains("\nClasses: 3 (cat, dog, emu)\n", trained);
        string submission = dir.File("animals-submission.csv");
        CliHarness.Succeeds("predict", csv, "--model", model, "--out", submission);

        var metadata = SafeTensors.ReadMetadata(model);
        Assert.Equal("rotation=5,zoom=0,shift=0,shear=0,flip", metadata["augmentation"]);
        var (net, _) = ModelFile.LoadClassifier(model, threads: 1);
        using (net)
        {
            Assert.Equal(Shape.Image(16, 16, 1), net.InputShape);
            Assert.Equal(animals, net.ClassNames);
        }
        var predicted = File.ReadAllLines(submission)[1..].Select(l => l.Split(',')[1]).ToList();
        Assert.Equal(48, predicted.Count);
        Assert.All(predicted, p => Assert.Contains(p, animals));
    }

    private static string Quote(string name) => name.Contains(',') ? $"\"{name}\"" : name;
}
