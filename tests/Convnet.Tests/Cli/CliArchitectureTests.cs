using Convnet.Cli.Commands;
using Convnet.Data;
using Convnet.IO;
using Convnet.Models;
using Convnet.Tests.Data;
using Xunit;
using Convnet.Architecture;
using Convnet.Saving;

namespace Convnet.Tests.Cli;

/// <summary>--arch specs, recipes and the optimiser, schedule and callback options of train.</summary>
public sealed class CliArchitectureTests
{
    private const string TinySpec = "conv4k3s2-bn-relu,maxpool2,flatten,drop0.2";

    [Fact]
    public void Summary_of_a_spec_prints_the_layers_and_the_hand_counted_parameters()
    {
        // 28×28×1 → conv4k3s2 (valid): 13×13×4, 3·3·1·4 + 4 = 40 → bn: 4·4 = 16 (8 trainable) → maxpool2: 6×6×4
        // → flatten: 144 → dense10 (appended): 144·10 + 10 = 1,450 → softmax. Total 40 + 16 + 1,450 = 1,506; trainable 1,498.
        var result = CliHarness.Succeeds("summary", "--arch", "conv4k3s2-bn-relu,maxpool2,flatten");
        Assert.Contains("(None, 13, 13, 4)", result.Out);
        Assert.Contains("(None, 144)", result.Out);
        Assert.Contains("Total params: 1,506", result.Out);
        Assert.Contains("Trainable params: 1,498", result.Out);
        Assert.Contains("Non-trainable params: 8", result.Out);
    }

    [Fact]
    public void Summary_of_the_strong_recipe_matches_the_Keras_parameter_count()
    {
        var result = CliHarness.Succeeds("summary", "--arch", "strong");
        Assert.Contains("Total params: 327,242", result.Out);
    }

    [Theory]
    [InlineData("conv8k3,conv32k", "arch spec: token 2 'conv32k': missing kernel size after 'k'")]
    [InlineData("conv8k3,conv8k40,flatten", "arch spec: token 2 'conv8k40'")]
    [InlineData("flatten,dense5", "the final dense has 5 units but there are 10 classes")]
    [InlineData("strongg", "unknown --arch 'strongg'; known: simple, general, strong")]
    public void Summary_of_a_bad_spec_exits_1_pointing_at_the_token(string spec, string message)
    {
        var result = CliHarness.Run("summary", "--arch", spec);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(message, result.Err);
        Assert.StartsWith("error: ", result.Err);
    }

    [Fact]
    public void Train_with_a_spec_and_the_new_options_saves_a_model_and_a_checkpoint_that_predict()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv");
        string model = dir.File("model.safetensors");
        string checkpoint = dir.File("best.safetensors");
        var result = CliHarness.Succeeds(
            "train", csv, "--model", model, "--arch", TinySpec, "--epochs", "4", "--batch-size", "16", "--validation-split", "0.2", "--threads", "1",
            "--optimizer", "adamw", "--weight-decay", "0.01", "--lr-schedule", "exponential:0.9", "--label-smoothing", "0.1", "--clip-norm", "1",
            "--early-stopping", "1", "--reduce-lr-on-plateau", "1", "--checkpoint", checkpoint);
        Assert.Contains("adamw", result.Out);

        var (net, metadata) = ModelFile.Load(model, threads: 1);
        using (net)
        {
            Assert.Equal(TinySpec, metadata["arch"]);
            Assert.Equal(TinySpec + ",dense10-softmax", metadata["arch_spec"]);
            Assert.Equal("adamw", metadata["optimizer"]);
            Assert.Equal("0.01", metadata["weight_decay"]);
            Assert.Equal("exponential:0.9", metadata["lr_schedule"]);
            Assert.Equal("0.1", metadata["label_smoothing"]);
            Assert.Equal("1", metadata["clip_norm"]);
            Assert.StartsWith("patience 1 on val_loss", metadata["early_stopping"]);
            Assert.StartsWith("patience 1 on val_loss", metadata["reduce_lr_on_plateau"]);
            Assert.Equal("best.safetensors", metadata["checkpoint"]);
            int trained = int.Parse(metadata["epochs_trained"], System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(trained, 1, 4);
            Assert.Equal(10, net.Predict(CliHarness.Digits(10)).Length / 10);
        }

        var (best, bestMetadata) = ModelFile.Load(checkpoint, threads: 1);
        using (best)
        {
            Assert.Equal("adamw", bestMetadata["optimizer"]);
            Assert.True(bestMetadata.ContainsKey("epoch"));
            Assert.Equal(ModelFile.ArchitectureJson(best), SafeTensors.Read(model).Metadata["architecture"]);
        }
        string submission = dir.File("submission.csv");
        CliHarness.Succeeds("predict", CliHarness.WriteDigits(dir, "test.csv", labelled: false, count: 10), "--model", checkpoint, "--out", submission, "--threads", "1");
        Assert.Equal(11, File.ReadAllLines(submission).Length);
    }

    [Fact]
    public void Exponential_schedule_decays_the_rate_each_epoch()
    {
        using var dir = new TempDir();
        string model = CliHarness.TrainModel(dir, "m.safetensors", "--arch", "flatten", "--epochs", "3", "--lr-schedule", "exponential:0.5", "--lr", "0.01");
        string history = SafeTensors.Read(model).Metadata["history"];
        Assert.Contains("\"learning_rate\":0.01", history);
        Assert.Contains("\"learning_rate\":0.005", history);
        Assert.Contains("\"learning_rate\":0.0025", history);
    }

    [Theory]
    [InlineData("sgd", "onecycle")]
    [InlineData("rmsprop", "constant")]
    public void Sgd_and_rmsprop_take_momentum_under_any_schedule(string optimizer, string schedule)
    {
        using var dir = new TempDir();
        string model = CliHarness.TrainModel(dir, "m.safetensors", "--arch", "flatten", "--epochs", "2", "--optimizer", optimizer, "--momentum", "0.9", "--lr-schedule", schedule, "--lr", "0.01");
        var metadata = SafeTensors.Read(model).Metadata;
        Assert.Equal(optimizer, metadata["optimizer"]);
        Assert.Equal("0.9", metadata["momentum"]);
        Assert.Equal(schedule, metadata["lr_schedule"]);
    }

    [Fact]
    public void Train_with_ema_saves_the_averaged_weights_and_reports_their_validation_score()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv");
        string plain = dir.File("plain.safetensors");
        string averaged = dir.File("ema.safetensors");
        string[] common = ["--arch", TinySpec, "--epochs", "2", "--batch-size", "16", "--validation-split", "0.2", "--threads", "1"];
        CliHarness.Succeeds(["train", csv, "--model", plain, .. common]);
        var result = CliHarness.Succeeds(["train", csv, "--model", averaged, "--ema", "0.9", .. common]);
        Assert.Contains("Averaged weights (--ema 0.9): val_loss ", result.Out);

        var (a, aMetadata) = ModelFile.Load(plain, threads: 1);
        var (b, bMetadata) = ModelFile.Load(averaged, threads: 1);
        using (a)
        using (b)
        {
            Assert.Equal("none", aMetadata["ema_momentum"]);
            Assert.Equal("0.9", bMetadata["ema_momentum"]);
            // The same training (EMA does not change the steps), different saved weights.
            static string WithoutTimes(string history) => System.Text.RegularExpressions.Regex.Replace(history, "\"seconds\":[^,}]*", "");
            Assert.Equal(WithoutTimes(aMetadata["history"]), WithoutTimes(bMetadata["history"]));
            Assert.NotEqual(a.GetWeights(), b.GetWeights());
        }
    }

    public static TheoryData<string[], string> BadOptions => new()
    {
        { ["--optimizer", "adagrad"], "--optimizer must be one of adam, adamw, rmsprop, sgd, got 'adagrad'" },
        { ["--weight-decay", "0.1"], "--weight-decay 0.1 needs --optimizer adamw" },
        { ["--optimizer", "adamw", "--weight-decay", "2"], "--weight-decay must be in [0, 1), got 2" },
        { ["--momentum", "0.9"], "--momentum 0.9 needs --optimizer sgd or rmsprop" },
        { ["--optimizer", "sgd", "--momentum", "1.5"], "--momentum must be in [0, 1), got 1.5" },
        { ["--lr-schedule", "linear"], "--lr-schedule must be constant, cosine, exponential[:RATE] or onecycle, got 'linear'" },
        { ["--lr-schedule", "exponential:2"], "--lr-schedule 'exponential:2': the exponential rate must be a number in (0, 1]" },
        { ["--label-smoothing", "1"], "--label-smoothing must be in [0, 1), got 1" },
        { ["--clip-norm", "0"], "--clip-norm must be positive, got 0" },
        { ["--ema", "1"], "--ema must be a momentum in [0, 1), got 1" },
        { ["--ema", "0.99", "--early-stopping", "2"], "--ema cannot be combined with --early-stopping" },
        { ["--early-stopping", "-1"], "--early-stopping must be a patience of 0 or more epochs, got -1" },
        { ["--reduce-lr-on-plateau", "-2"], "--reduce-lr-on-plateau must be a patience of 0 or more epochs, got -2" },
        { ["--reduce-lr-on-plateau", "1", "--lr-schedule", "onecycle"], "--reduce-lr-on-plateau cannot be combined with --lr-schedule onecycle" },
        { ["--arch", "conv8k3,dense"], "--arch: arch spec: token 2 'dense': missing the number of units after 'dense'" },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Bad_option_values_exit_1_naming_the_option(string[] options, string message)
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv");
        string model = dir.File("model.safetensors");
        var result = CliHarness.Run(["train", csv, "--model", model, .. CliHarness.Tiny(options)]);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(message, result.Err);
        Assert.False(File.Exists(model));
    }

    [Fact]
    public void Train_without_arch_trains_the_default_recipe_with_its_settings_and_specs_take_them_too()
    {
        Assert.Equal("general", Architectures.Default.Name);
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv", count: 20);
        string implicitModel = dir.File("implicit.safetensors");
        string named = dir.File("named.safetensors");
        string spec = dir.File("spec.safetensors");
        CliHarness.Succeeds("train", csv, "--model", implicitModel, "--validation-split", "0", "--threads", "1");
        CliHarness.Succeeds("train", csv, "--model", named, "--arch", "general", "--validation-split", "0", "--threads", "1");
        CliHarness.Succeeds("train", csv, "--model", spec, "--arch", Architectures.General.Spec, "--validation-split", "0", "--threads", "1");

        var metadata = SafeTensors.Read(implicitModel).Metadata;
        Assert.Equal("general", metadata["arch"]);
        Assert.Equal(Architectures.General.Spec + ",dense10-softmax", metadata["arch_spec"]);
        Assert.Equal("10", metadata["epochs"]);
        Assert.Equal("64", metadata["batch_size"]);
        Assert.Equal("cosine", metadata["lr_schedule"]);
        Assert.Equal("none", metadata["augmentation"]);
        Assert.Equal(metadata[SafeTensors.ChecksumKey], SafeTensors.Read(named).Metadata[SafeTensors.ChecksumKey]);

        // The same layers written as a spec get the same settings, hence the same bits.
        var fromSpec = SafeTensors.Read(spec).Metadata;
        Assert.Equal("10", fromSpec["epochs"]);
        Assert.Equal("none", fromSpec["augmentation"]);
        Assert.Equal(metadata[SafeTensors.ChecksumKey], fromSpec[SafeTensors.ChecksumKey]);
    }

    [Fact]
    public void Recipes_bring_their_own_defaults_and_options_override_them()
    {
        Assert.Equal(30, Architectures.Strong.Epochs);
        Assert.Equal("exponential:0.95", Architectures.Strong.Schedule.ToString());
        using var dir = new TempDir();
        // --epochs given; the rest of strong's defaults (batch 64, lr 0.001, exponential:0.95) apply.
        string csv = CliHarness.WriteDigits(dir, "train.csv", count: 20);
        string model = dir.File("strong.safetensors");
        CliHarness.Succeeds("train", csv, "--model", model, "--arch", "strong", "--epochs", "1", "--validation-split", "0", "--threads", "1");
        var metadata = SafeTensors.Read(model).Metadata;
        Assert.Equal("strong", metadata["arch"]);
        Assert.Equal("exponential:0.95", metadata["lr_schedule"]);
        Assert.Equal("64", metadata["batch_size"]);
        Assert.Equal("1", metadata["epochs"]);
        Assert.Equal("0.999", metadata["ema_momentum"]);

        // --ema 0 turns strong's moving average off.
        CliHarness.Succeeds("train", csv, "--model", model, "--arch", "strong", "--epochs", "1", "--validation-split", "0", "--threads", "1", "--ema", "0");
        Assert.Equal("none", SafeTensors.Read(model).Metadata["ema_momentum"]);
    }

    [Theory]
    [InlineData(null, null, false, null)]
    [InlineData(null, 0.999f, false, 0.999f)]
    [InlineData(null, 0.999f, true, null)]
    [InlineData(0.9f, 0.999f, false, 0.9f)]
    [InlineData(0.9f, null, true, 0.9f)]
    [InlineData(0f, 0.999f, false, null)]
    [InlineData(1.5f, null, false, 1.5f)]
    public void Ema_setting_takes_the_option_then_the_recipe_unless_early_stopping(float? option, float? recipe, bool earlyStopping, float? expected)
    {
        // An explicit --ema with --early-stopping stays set, to be refused by the checks with a message.
        Assert.Equal(expected, TrainOptions.EmaSetting(option, recipe, earlyStopping));
    }
}
