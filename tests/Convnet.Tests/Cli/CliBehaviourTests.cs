using System.Text.RegularExpressions;
using Convnet.Data;
using Convnet.Models;
using Convnet.Tests.Data;
using Xunit;
using Xunit.Abstractions;
using Convnet.Saving;

namespace Convnet.Tests.Cli;

/// <summary>What each command does on small valid inputs.</summary>
public sealed partial class CliBehaviourTests(TrainedModelFixture trained, ITestOutputHelper output) : IClassFixture<TrainedModelFixture>
{
    [Fact]
    public void Summary_describes_the_trained_model_and_its_settings()
    {
        var result = CliHarness.Succeeds("summary", "--model", trained.Path);
        var fresh = CliHarness.Succeeds("summary", "--arch", "general");
        output.WriteLine(result.Out);

        Assert.Contains("Total params: 242,314", result.Out);
        Assert.Contains("Total params: 242,314", fresh.Out);
        // The same layer table as the named architecture (the model name on the first line aside).
        string Table(string text) => text[text.IndexOf('\n', StringComparison.Ordinal)..(text.LastIndexOf("Non-trainable", StringComparison.Ordinal))];
        Assert.Equal(Table(fresh.Out), Table(result.Out));
        foreach (string line in new[] { "arch: general", "epochs: 1", "batch_size: 16", "learning_rate: 0.001", "seed: 1", "train_images: 60" })
        {
            Assert.Contains(line + "\n", result.Out);
        }
    }

    [Fact]
    public void Predict_writes_one_row_per_image_with_image_ids_from_1()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "test.csv", labelled: false, count: 37, seed: 3);
        string submission = dir.File("submission.csv");

        var result = CliHarness.Succeeds("predict", csv, "--model", trained.Path, "--out", submission);

        Assert.Equal($"Wrote 37 predictions to {submission}.\n", result.Out);
        string[] lines = File.ReadAllText(submission).Split('\n');
        Assert.Equal("ImageId,Label", lines[0]);
        Assert.Equal(39, lines.Length);
        Assert.Equal("", lines[^1]);
        using var model = ModelFile.Load(trained.Path, threads: 1).Model;
        int[] expected = model.PredictClasses(KaggleCsv.ReadUnlabelled(csv));
        for (int i = 0; i < 37; i++)
        {
            Assert.Equal($"{i + 1},{expected[i]}", lines[i + 1]);
        }
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp-*"));
    }

    [Fact]
    public void Predict_replaces_an_existing_submission()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "test.csv", labelled: false, count: 5, seed: 3);
        string submission = dir.Write("submission.csv", "old contents that are longer than the new ones, " + new string('x', 500));

        CliHarness.Succeeds("predict", csv, "--model", trained.Path, "--out", submission);

        Assert.Equal(5, KaggleCsv.ReadLabels(submission).Length);
    }

    [Fact]
    public void Evaluate_with_a_model_agrees_with_evaluate_of_its_submission()
    {
        using var dir = new TempDir();
        var data = CliHarness.Digits(count: 50, seed: 21);
        string labelled = dir.File("labelled.csv");
        string test = dir.File("test.csv");
        string labels = dir.File("labels.csv");
        string submission = dir.File("submission.csv");
        KaggleCsv.WriteLabelled(labelled, data);
        KaggleCsv.WriteUnlabelled(test, data);
        KaggleCsv.WriteLabels(labels, data.Labels);

        var withModel = CliHarness.Succeeds("evaluate", labelled, "--model", trained.Path);
        var withLabels = CliHarness.Succeeds("evaluate", test, "--labels", labels, "--model", trained.Path);
        CliHarness.Succeeds("predict", test, "--model", trained.Path, "--out", submission);
        var ofSubmission = CliHarness.Succeeds("evaluate", "--submission", submission, "--labels", labels);
        output.WriteLine(withModel.Out);

        var (percent, correct, total) = Accuracy(withModel.Out);
        Assert.Equal(50, total);
        Assert.Equal(Accuracy(withModel.Out), Accuracy(ofSubmission.Out));
        Assert.Equal(Accuracy(withModel.Out), Accuracy(withLabels.Out));
        // The whole report is the same whichever way the predictions came.
        Assert.Equal(withModel.Out, ofSubmission.Out);
        Assert.Equal(withModel.Out, withLabels.Out);
        // And it is right: count the agreements in the submission ourselves.
        byte[] predicted = KaggleCsv.ReadLabels(submission);
        Assert.Equal(predicted.Zip(data.Labels!).Count(p => p.First == p.Second), correct);
        Assert.Equal(Math.Round(100.0 * correct / total, 2), percent);
        Assert.Contains("Per class", withModel.Out);
        Assert.Contains("Confusion matrix", withModel.Out);
        Assert.Contains("precision", withModel.Out);
    }

    [Fact]
    public void Evaluate_of_a_perfect_submission_reports_100_percent()
    {
        using var dir = new TempDir();
        string labels = dir.Write("labels.csv", "ImageId,Label\n1,0\n2,1\n3,9\n4,9\n");

        var result = CliHarness.Succeeds("evaluate", "--submission", labels, "--labels", labels);

        Assert.Equal((100.0, 4, 4), Accuracy(result.Out));
        Assert.Contains("0 errors", result.Out);
    }

    [Theory]
    [InlineData('1', true)]
    [InlineData('7', false)]
    public void Predict_image_classifies_a_drawn_digit(char digit, bool whiteOnBlack)
    {
        using var dir = new TempDir();
        string png = CliImages.WriteDigitPng(dir, $"digit-{digit}.png", digit, whiteOnBlack);

        var result = CliHarness.Succeeds("predict", "--image", png, "--model", trained.Path);

        output.WriteLine(result.Out);
        Assert.Matches(@"Predicted digit: \d \(\d+(\.\d)? ?%\)", result.Out);
        Assert.Contains("█", result.Out);
        Assert.Contains("Probabilities", result.Out);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.csv"));
    }

    [Fact]
    public void Predict_image_of_a_file_that_is_not_an_image_is_a_user_error()
    {
        using var dir = new TempDir();
        string fake = dir.Write("digit.png", "this is text, not a PNG\n");

        var result = CliHarness.Run("predict", "--image", fake, "--model", trained.Path);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"error: {fake}: not an image this build can decode (PNG, JPEG, GIF, BMP, WebP)\n", result.Err);
        Assert.Equal("", result.Out);
    }

    [Fact]
    public void Train_reports_its_progress_and_the_file_it_saved()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv");
        string model = dir.File("m.safetensors");

        var result = CliHarness.Succeeds(["train", csv, "--model", model, .. CliHarness.Tiny("--epochs", "2", "--validation-split", "0.2")]);

        output.WriteLine(result.Out);
        Assert.Contains("training on 50, validating on 10", result.Out);
        Assert.Contains("241,930 parameters", result.Out);
        Assert.Contains("Epoch 1/2", result.Out);
        Assert.Contains("Epoch 2/2", result.Out);
        Assert.Contains("val_accuracy", result.Out);
        Assert.Contains($"Saved {model}.", result.Out);
        Assert.Equal(["m.safetensors", "train.csv"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order());
    }

    /// <summary>Parses "Accuracy: 12.34% (5 of 50 correct, ...)".</summary>
    internal static (double Percent, int Correct, int Total) Accuracy(string report)
    {
        var m = AccuracyLine().Match(report);
        Assert.True(m.Success, report);
        return (double.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value.Replace(",", "")), int.Parse(m.Groups[3].Value.Replace(",", "")));
    }

    [GeneratedRegex(@"^Accuracy: ([\d.]+) ?% \(([\d,]+) of ([\d,]+) correct", RegexOptions.Multiline)]
    private static partial Regex AccuracyLine();
}
