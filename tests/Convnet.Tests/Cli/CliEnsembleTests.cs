using Convnet.Tests.Saving;
using System.Globalization;
using System.Text.RegularExpressions;
using Convnet.Data;
using Convnet.IO;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Tensors;
using Convnet.Tests.Data;
using Convnet.Tests.Models;
using Xunit;
using Xunit.Abstractions;
using Convnet.Saving;

namespace Convnet.Tests.Cli;

/// <summary>An ensemble of two tiny models trained once through the command line, with its options and outputs.</summary>
public sealed class TrainedEnsembleFixture : IDisposable
{
    private readonly TempDir _dir = new();

    /// <summary>Member k's options but for the seed: a 20% validation split, so that each member's split is its own.</summary>
    public static readonly string[] Options = CliHarness.Tiny("--validation-split", "0.2");

    public TrainedEnsembleFixture()
    {
        TrainCsv = CliHarness.WriteDigits(_dir, "train.csv");
        Path = _dir.File("ensemble.safetensors");
        HistoryCsv = _dir.File("history.csv");
        TrainOutput = CliHarness.Succeeds(["train", TrainCsv, "--model", Path, "--ensemble", "2", "--history", HistoryCsv, .. Options]).Out;
    }

    public string TrainCsv { get; }
    public string Path { get; }
    public string HistoryCsv { get; }
    public string TrainOutput { get; }

    public void Dispose() => _dir.Dispose();
}

/// <summary><c>train --ensemble N</c> and every command that reads its file.</summary>
public sealed partial class CliEnsembleTests(TrainedEnsembleFixture ensemble, ITestOutputHelper output) : IClassFixture<TrainedEnsembleFixture>
{
    [Fact]
    public void Train_reports_each_member_with_its_seed_and_the_total()
    {
        output.WriteLine(ensemble.TrainOutput);
        string text = ensemble.TrainOutput;
        Assert.Contains("validating on 10 (each member its own split)", text);
        Assert.Contains("Ensemble of 2 models 'general': 241,930 parameters each", text);
        int first = text.IndexOf("Member 1/2 (seed 1)\n", StringComparison.Ordinal);
        int second = text.IndexOf("Member 2/2 (seed 2)\n", StringComparison.Ordinal);
        Assert.True(first >= 0 && second > first, text);
        Assert.Matches(@"Member 1/2 trained in [\d.]+ s: accuracy [\d.]+ ?%, val_accuracy [\d.]+ ?%\.", text);
        Assert.Equal(2, Regex.Matches(text, "^Epoch 1/1 ", RegexOptions.Multiline).Count);
        Assert.Matches($@"Trained 2 models in [\d.]+ s\. Saved the ensemble to {Regex.Escape(ensemble.Path)}\.", text);
    }

    [Fact]
    public void Member_k_is_the_model_a_single_run_with_seed_plus_k_trains_and_ensemble_1_is_a_single_run()
    {
        using var dir = new TempDir();
        string single1 = dir.File("seed1.safetensors"), single2 = dir.File("seed2.safetensors"), one = dir.File("one.safetensors");
        CliHarness.Succeeds(["train", ensemble.TrainCsv, "--model", single1, .. TrainedEnsembleFixture.Options]);
        CliHarness.Succeeds(["train", ensemble.TrainCsv, "--model", single2, "--seed", "2", .. TrainedEnsembleFixture.Options]);
        CliHarness.Succeeds(["train", ensemble.TrainCsv, "--model", one, "--ensemble", "1", .. TrainedEnsembleFixture.Options]);

        // --ensemble 1 writes what no --ensemble writes: one model, no "ensemble" key, no prefixes.
        CliHarness.AssertSameModel(single1, one);
        Assert.False(SafeTensors.ReadMetadata(one).ContainsKey("ensemble"));

        var members = MemberTensors(ensemble.Path);
        Assert.Equal(2, members.Count);
        Assert.Equal(SafeTensors.Read(single1).Tensors, members[0]);
        Assert.Equal(SafeTensors.Read(single2).Tensors, members[1]);
        Assert.NotEqual(members[0], members[1]);

        // Each member's own metadata is the single run's training record (the settings are kept once, at the top).
        var metadata = SafeTensors.ReadMetadata(ensemble.Path);
        var own = SafeTensors.ReadMetadata(single2);
        Assert.Equal("2", metadata["ensemble"]);
        Assert.Equal("1", metadata["seed"]);
        Assert.Equal("2", metadata["member1.seed"]);
        Assert.Equal(own["architecture"], metadata["member1.architecture"]);
        Assert.Equal(own["epochs_trained"], metadata["member1.epochs_trained"]);
        Assert.Equal(Regex.Replace(own["history"], "\"seconds\":[^,}]*", ""), Regex.Replace(metadata["member1.history"], "\"seconds\":[^,}]*", ""));
        foreach (string key in new[] { "arch", "arch_spec", "epochs", "batch_size", "learning_rate", "validation_split", "augmentation", "train_images", "early_stopping" })
        {
            Assert.Equal(own[key], metadata[key]);
        }
    }

    [Fact]
    public void The_same_options_give_the_same_ensemble_file_whatever_the_thread_count_and_members_at_a_time()
    {
        using var dir = new TempDir();
        // Two threads: both members at once, one thread each (the fixture trained them one after another on one thread).
        string together = dir.File("together.safetensors");
        string text = CliHarness.Succeeds(["train", ensemble.TrainCsv, "--model", together, "--ensemble", "2", .. CliHarness.Tiny("--validation-split", "0.2", "--threads", "2")]).Out;
        Assert.Contains("Ensemble of 2 models 'general': 241,930 parameters each; 2 at a time, 2 thread(s) shared between them;", text);
        Assert.Matches(@"(?m)^Member 1/2: Epoch 1/1 - ", text);
        Assert.Matches(@"(?m)^Member 2/2: Epoch 1/1 - ", text);
        Assert.Matches(@"Member 2/2 trained in [\d.]+ s: accuracy [\d.]+ ?%, val_accuracy [\d.]+ ?%\.", text);
        CliHarness.AssertSameModel(ensemble.Path, together);

        // One after another with two threads each, and three at a time on one thread (more members than threads).
        string oneByOne = dir.File("one-by-one.safetensors");
        CliHarness.Succeeds(["train", ensemble.TrainCsv, "--model", oneByOne, "--ensemble", "2", "--parallel-members", "1", .. CliHarness.Tiny("--validation-split", "0.2", "--threads", "2")]);
        CliHarness.AssertSameModel(ensemble.Path, oneByOne);
        string crowded = dir.File("crowded.safetensors");
        CliHarness.Succeeds(["train", ensemble.TrainCsv, "--model", crowded, "--ensemble", "2", "--parallel-members", "3", .. TrainedEnsembleFixture.Options]);
        CliHarness.AssertSameModel(ensemble.Path, crowded);
    }

    [Fact]
    public void History_csv_has_a_member_column_and_every_member_s_epochs()
    {
        string[] lines = File.ReadAllLines(ensemble.HistoryCsv);
        Assert.Equal("member,epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds", lines[0]);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("0,1,", lines[1]);
        Assert.StartsWith("1,1,", lines[2]);
        Assert.Equal(8, lines[2].Split(',').Length);
        Assert.NotEqual(lines[1][2..], lines[2][2..]);
    }

    [Fact]
    public void Predict_writes_the_ensemble_s_classes()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "test.csv", labelled: false, count: 23, seed: 4);
        string submission = dir.File("submission.csv");

        var result = CliHarness.Succeeds("predict", csv, "--model", ensemble.Path, "--out", submission);

        Assert.Equal($"Wrote 23 predictions to {submission}.\n", result.Out);
        using var loaded = ModelFile.LoadEnsemble(ensemble.Path, threads: 1).Model;
        Assert.Equal(loaded.PredictClasses(KaggleCsv.ReadUnlabelled(csv)).Select(c => (byte)c), KaggleCsv.ReadLabels(submission));
    }

    [Fact]
    public void Predict_and_evaluate_with_tta_average_over_the_views()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "test.csv", labelled: true, count: 23, seed: 4);
        string submission = dir.File("submission.csv");

        CliHarness.Succeeds("predict", csv, "--model", ensemble.Path, "--out", submission, "--tta", "5");
        var evaluation = CliHarness.Succeeds("evaluate", csv, "--model", ensemble.Path, "--tta", "5");

        using var loaded = ModelFile.LoadEnsemble(ensemble.Path, threads: 1).Model;
        using var tta = new TestTimeAugmentation(loaded, 5);
        var data = KaggleCsv.ReadLabelled(csv);
        var expected = tta.PredictClasses(data).Select(c => (byte)c).ToArray();
        Assert.Equal(expected, KaggleCsv.ReadLabels(submission));
        Assert.Contains("Test-time augmentation: the mean over 5 views of each image.", evaluation.Out);
        var (accuracy, correct, total) = CliBehaviourTests.Accuracy(evaluation.Out);
        Assert.Equal(23, total);
        Assert.Equal(expected.Zip(data.Labels!).Count(p => p.First == p.Second), correct);
    }

    [Fact]
    public void Merge_joins_separately_trained_models_into_the_ensemble_train_would_write()
    {
        using var dir = new TempDir();
        string single1 = dir.File("seed1.safetensors"), single2 = dir.File("seed2.safetensors"), merged = dir.File("merged.safetensors");
        CliHarness.Succeeds(["train", ensemble.TrainCsv, "--model", single1, .. TrainedEnsembleFixture.Options]);
        CliHarness.Succeeds(["train", ensemble.TrainCsv, "--model", single2, "--seed", "2", .. TrainedEnsembleFixture.Options]);

        var result = CliHarness.Succeeds("merge", single1, single2, "--out", merged);

        Assert.Equal($"Wrote an ensemble of 2 models (483,860 parameters) to {merged}.\n", result.Out);
        // The same tensors as the ensemble `train --ensemble 2` wrote, and each member's own settings.
        Assert.Equal(MemberTensors(ensemble.Path), MemberTensors(merged));
        var metadata = SafeTensors.ReadMetadata(merged);
        Assert.Equal("2", metadata["ensemble"]);
        Assert.Equal("2", metadata["member1.seed"]);
        Assert.Equal("seed2.safetensors", metadata["member1.source_file"]);
        Assert.Equal("seed1.safetensors, seed2.safetensors", metadata["merged_from"]);

        // An ensemble and a single model merge into three members.
        string three = dir.File("three.safetensors");
        CliHarness.Succeeds("merge", ensemble.Path, single1, "--out", three);
        using var loaded = ModelFile.LoadEnsemble(three, threads: 1).Model;
        Assert.Equal(3, loaded.Members.Count);
    }

    [Fact]
    public void Merge_refuses_models_of_different_inputs_and_writes_nothing()
    {
        using var dir = new TempDir();
        string other = dir.File("other.safetensors"), merged = dir.File("merged.safetensors");
        using (var model = new Sequential(Shape.Vector(784)))
        {
            model.Add(new Dense(10)).Add(new Softmax());
            model.Save(other);
        }
        var result = CliHarness.Run("merge", ensemble.Path, other, "--out", merged);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("other.safetensors: the model takes", result.Err);
        Assert.DoesNotContain("   at ", result.Err);
        Assert.False(File.Exists(merged));
    }

    [Theory]
    [InlineData("predict", "0")]
    [InlineData("evaluate", "10")]
    public void A_tta_outside_1_to_9_is_a_user_error(string command, string views)
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "test.csv", labelled: true, count: 5, seed: 4);
        string submission = dir.File("submission.csv");
        string[] output = command == "predict" ? ["--out", submission] : [];
        var result = CliHarness.Run([command, csv, "--model", ensemble.Path, .. output, "--tta", views]);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"--tta must be in [1, 9], got {views}", result.Err);
        Assert.DoesNotContain("   at ", result.Err);
        Assert.False(File.Exists(submission));
    }

    [Fact]
    public void Predict_image_shows_the_mean_probabilities()
    {
        using var dir = new TempDir();
        string png = CliImages.WriteDigitPng(dir, "one.png", '1', whiteOnBlack: true);

        var result = CliHarness.Succeeds("predict", "--image", png, "--model", ensemble.Path);

        var (gray, width, height) = Convnet.Cli.ImageLoader.LoadGray(png);
        using var loaded = ModelFile.LoadEnsemble(ensemble.Path, threads: 1).Model;
        var p = loaded.Predict(DigitImage.Preprocess(gray, width, height));
        int best = Classifier.ArgMax(p);
        Assert.Contains($"Predicted digit: {best} ({p[best]:P1})", result.Out);
    }

    [Fact]
    public void Evaluate_prints_each_member_s_accuracy_then_the_ensemble_s_scores()
    {
        using var dir = new TempDir();
        var data = CliHarness.Digits(count: 40, seed: 31);
        string csv = dir.File("labelled.csv");
        KaggleCsv.WriteLabelled(csv, data);

        var result = CliHarness.Succeeds("evaluate", csv, "--model", ensemble.Path);
        output.WriteLine(result.Out);

        using var loaded = ModelFile.LoadEnsemble(ensemble.Path, threads: 1).Model;
        for (int k = 0; k < 2; k++)
        {
            int correct = loaded.Members[k].PredictClasses(data).Zip(data.Labels!).Count(x => x.First == x.Second);
            string accuracy = ((double)correct / data.Count).ToString("P2", CultureInfo.InvariantCulture);
            Assert.Matches($@"│ member{k} +│ {k + 1} +│ {Regex.Escape(accuracy)} +│ {data.Count - correct} +│", result.Out);
        }
        int ensembleCorrect = loaded.PredictClasses(data).Zip(data.Labels!).Count(x => x.First == x.Second);
        Assert.Equal(ensembleCorrect, CliBehaviourTests.Accuracy(result.Out).Correct);
        Assert.True(result.Out.IndexOf("Each member alone", StringComparison.Ordinal) < result.Out.IndexOf("Accuracy:", StringComparison.Ordinal));
        Assert.Contains("Ensemble of 2 (the mean of the members' probabilities):\nAccuracy:", result.Out);
        Assert.Contains("Confusion matrix", result.Out);
    }

    [Fact]
    public void Summary_describes_the_members_their_total_and_their_seeds()
    {
        var result = CliHarness.Succeeds("summary", "--model", ensemble.Path);
        output.WriteLine(result.Out);

        Assert.StartsWith("Ensemble of 2 models", result.Out);
        Assert.Contains("Total params: 484,628", result.Out);
        Assert.Contains("Every member has the architecture of member0", result.Out);
        Assert.Contains("Total params: 242,314", result.Out);
        Assert.Contains("arch: general\n", result.Out);
        Assert.Contains("seed: 1\n", result.Out);
        Assert.Matches(@"member0: seed 1, epochs_trained 1, train_seconds [\d.]+\n", result.Out);
        Assert.Matches(@"member1: seed 2, epochs_trained 1, train_seconds [\d.]+\n", result.Out);
    }

    public static TheoryData<string, string> MalformedCases()
    {
        var cases = new TheoryData<string, string>();
        foreach (string command in new[] { "predict", "evaluate", "summary" })
        {
            foreach (string malformation in new[] { "missing tensor", "unexpected tensor", "ensemble count too high", "member with another input shape" })
            {
                cases.Add(command, malformation);
            }
        }
        return cases;
    }

    [Theory]
    [MemberData(nameof(MalformedCases))]
    public void A_malformed_ensemble_file_exits_1_with_one_line_naming_the_file(string command, string malformation)
    {
        using var dir = new TempDir();
        string good = dir.File("good.safetensors");
        File.Copy(ensemble.Path, good);
        string bad = EnsembleFileTests.Malformed(good, malformation);
        string labelled = CliHarness.WriteDigits(dir, "labelled.csv", count: 10);
        string[] args = command switch
        {
            "predict" => ["predict", labelled, "--model", bad, "--out", dir.File("submission.csv")],
            "evaluate" => ["evaluate", labelled, "--model", bad],
            _ => ["summary", "--model", bad],
        };

        var result = CliHarness.Run(args);

        output.WriteLine(result.ToString());
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith($"error: {bad}: ", result.Err);
        Assert.Single(result.Err.TrimEnd('\n').Split('\n'));
        Assert.DoesNotContain("   at ", result.Err);
        Assert.False(File.Exists(dir.File("submission.csv")));
    }

    /// <summary>The file's tensors per member, with the "member&lt;k&gt;." prefix taken off their names.</summary>
    private static List<List<NamedTensor>> MemberTensors(string path)
    {
        var members = new List<List<NamedTensor>>();
        foreach (var t in SafeTensors.Read(path).Tensors)
        {
            var m = MemberName().Match(t.Name);
            Assert.True(m.Success, $"tensor '{t.Name}' has no member prefix");
            int k = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            while (members.Count <= k)
            {
                members.Add([]);
            }
            members[k].Add(new NamedTensor(m.Groups[2].Value, t.Shape, t.Data));
        }
        return members;
    }

    [GeneratedRegex(@"^member(\d+)\.(.+)$")]
    private static partial Regex MemberName();
}
