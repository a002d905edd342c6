using System.Text.RegularExpressions;
using Convnet.Cli.Commands;
using Convnet.Models;
using Convnet.Tests.Data;
using Xunit;

namespace Convnet.Tests.Cli;

/// <summary>Issue 14: a diverged run never replaces a good model; epoch lines fit the terminal; Ctrl-C says what was kept.</summary>
public sealed class CliDivergenceTests
{
    [Fact]
    public void A_diverged_run_leaves_the_model_byte_identical_exits_non_zero_and_says_what_to_try()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv");
        string model = CliHarness.TrainModel(dir, "model.safetensors");
        byte[] good = File.ReadAllBytes(model);

        var result = CliHarness.Run(["train", csv, "--model", model, .. CliHarness.Tiny("--lr", "1e30", "--epochs", "2")]);
        Assert.Equal(1, result.ExitCode);
        Assert.Matches(@"^error: training diverged: the loss became \S+ at step \d+ of epoch 1; .*model\.safetensors unchanged\. Try a lower --lr than 1E\+30, or --clip-norm 1\.$", result.Err.TrimEnd());
        Assert.DoesNotContain("Saved", result.Out);
        Assert.Equal(good, File.ReadAllBytes(model));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp-*"));
    }

    [Fact]
    public void A_diverged_ensemble_member_stops_the_run_and_names_the_member()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv");
        string model = dir.File("ensemble.safetensors");
        var result = CliHarness.Run(["train", csv, "--model", model, "--ensemble", "2", .. CliHarness.Tiny("--lr", "1e30", "--clip-norm", "5")]);
        Assert.Equal(1, result.ExitCode);
        Assert.Matches(@"training diverged: .* \(member [12]/2\); .* unchanged\. Try a lower --lr than 1E\+30, or a smaller --clip-norm than 5\.", result.Err);
        Assert.False(File.Exists(model));
    }

    [Theory]
    [InlineData(0.32414, "0.3241")]
    [InlineData(12345.678, "12345.6780")]
    [InlineData(1.2346e30, "1.235E+30")]
    [InlineData(-4.5e6, "-4.5E+06")]
    [InlineData(double.NaN, "NaN")]
    public void Scores_print_with_four_decimals_or_in_exponent_form_when_large(double value, string expected)
    {
        Assert.Equal(expected, TrainDisplay.Metric(value));
    }

    private static EpochLog Epoch(double loss = 0.3241, double valLoss = 0.0692) => new(3, loss, 0.8989, valLoss, 0.9787, 0.000962, 10.4);

    [Theory]
    [InlineData(79, "")]
    [InlineData(79, "Member 12/15: ")]
    [InlineData(60, "")]
    [InlineData(40, "Member 2/3: ")]
    public void Epoch_lines_wrap_to_the_terminal_width_at_their_separators_and_keep_every_score(int width, string prefix)
    {
        foreach (var log in new[] { Epoch(), Epoch(loss: 1.2345e30, valLoss: double.PositiveInfinity), Epoch(loss: double.NaN) })
        {
            string line = TrainDisplay.EpochLine(log, 30, 54_001, prefix);
            var lines = TrainDisplay.Wrap(line, width);
            Assert.All(lines, l => Assert.True(l.Length <= width, $"{l.Length} > {width}: '{l}'"));
            Assert.True(lines.Count > 1, line);
            Assert.Equal(line, string.Join(" - ", lines.Select(l => l.TrimStart())));
            string all = string.Join("\n", lines);
            foreach (string score in new[] { "loss: ", "accuracy: ", "val_loss: ", "val_accuracy: ", "lr: " })
            {
                Assert.Contains(score, all);
            }
        }
    }

    [Fact]
    public void The_epoch_line_keeps_its_format_where_it_fits()
    {
        string line = TrainDisplay.EpochLine(Epoch(), 8, 54_001);
        Assert.Matches(@"^Epoch 3/8 - 10\.4s - 5,19[0-9] images/s - loss: 0\.3241 - accuracy: 0\.8989 - val_loss: 0\.0692 - val_accuracy: 0\.9787 - lr: 0\.000962$", line);
        Assert.Equal([line], TrainDisplay.Wrap(line, 200));
    }

    [Theory]
    [InlineData(79)]
    [InlineData(60)]
    [InlineData(45)]
    [InlineData(200)]
    public void The_live_progress_line_fits_the_width_and_keeps_loss_and_accuracy(int width)
    {
        foreach (double loss in new[] { 0.1234, 3.4e30, double.NaN })
        {
            var log = new BatchLog(12, 30, 400, 844, 25_600, 54_001, loss, 0.9612, loss, 4.8);
            string text = TrainDisplay.ProgressLine(log, width);
            Assert.True(text.Length <= width || width < 50, $"{text.Length} > {width}: '{text}'");
            Assert.StartsWith("Epoch 12/30 ", text);
            Assert.Contains("loss ", text);
            Assert.Contains("acc 0.9612", text);
        }
        string wide = TrainDisplay.ProgressLine(new BatchLog(1, 8, 422, 844, 27_000, 54_000, 0.5, 0.9, 0.5, 5), 79);
        Assert.Matches(@"^Epoch 1/8 \[#{5}\.{6}\]  50%  loss 0\.5000  acc 0\.9000  5,400 img/s  ETA 0:00:05$", wide);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void On_a_terminal_epoch_lines_wrap_and_only_a_run_alone_draws_the_live_line(bool alone)
    {
        using var output = new StringWriter();
        var display = TrainDisplay.For(output, 80, 8, 54_001, alone ? "" : "Member 2/3: ", alone);
        display.OnBatchEnd(new BatchLog(1, 8, 844, 844, 54_001, 54_001, 0.3, 0.9, 0.3, 10));
        display.OnEpochEnd(Epoch());
        string text = output.ToString();
        Assert.Equal(alone, text.Contains('\r'));
        var lines = text.Split('\r').Last().Replace("\u001b[K", "").Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.True(l.Length < 80, l));
        Assert.Contains("val_accuracy: 0.9787", lines[1]);
        Assert.Equal(3, display.FinishedEpochs);

        using var log = new StringWriter();
        var plain = TrainDisplay.For(log, null, 8, 54_001);
        plain.OnBatchEnd(new BatchLog(1, 8, 844, 844, 54_001, 54_001, 0.3, 0.9, 0.3, 10));
        plain.OnEpochEnd(Epoch());
        Assert.Equal(TrainDisplay.EpochLine(Epoch(), 8, 54_001) + Environment.NewLine, log.ToString());
    }

    /// <summary>Cancels a token when a line starting with <paramref name="trigger"/> is written: what Ctrl-C does between two epochs' steps.</summary>
    private sealed class CancelOnLine(string trigger, CancellationTokenSource cancel) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value is not null && value.StartsWith(trigger, StringComparison.Ordinal))
            {
                cancel.Cancel();
            }
        }
    }

    [Fact]
    public void Interrupting_train_exits_130_and_says_which_epoch_was_kept_and_that_the_model_is_unchanged()
    {
        // The signal handlers (SIGINT, SIGTERM) cancel this token; checked by hand under tmux (see the report).
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv", count: 200);
        string model = CliHarness.TrainModel(dir, "model.safetensors");
        byte[] good = File.ReadAllBytes(model);
        var options = new TrainOptions();
        var command = new System.CommandLine.Command("train");
        options.AddTo(command);
        var request = options.Read(command.Parse([csv, "--model", model, "--epochs", "5", "--batch-size", "16", "--threads", "1", "--validation-split", "0", "--augment", "none"]));
        using var cancel = new CancellationTokenSource();
        using var output = new CancelOnLine("Epoch 2/5", cancel);
        using var error = new StringWriter();

        int exit = TrainCommand.Run(request, output, error, cancel.Token);

        Assert.Equal(130, exit);
        Assert.Equal($"interrupted after epoch 2; {model} unchanged.", error.ToString().TrimEnd());
        Assert.DoesNotContain("Epoch 3/5", output.ToString());
        Assert.Equal(good, File.ReadAllBytes(model));
    }

    [Fact]
    public void Interrupting_the_first_epoch_says_so()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv", count: 200);
        string model = dir.File("model.safetensors");
        var options = new TrainOptions();
        var command = new System.CommandLine.Command("train");
        options.AddTo(command);
        var request = options.Read(command.Parse([csv, "--model", model, "--epochs", "5", "--threads", "1", "--checkpoint", dir.File("best.safetensors")]));
        using var cancel = new CancellationTokenSource();
        using var output = new CancelOnLine("Model ", cancel);
        using var error = new StringWriter();

        Assert.Equal(130, TrainCommand.Run(request, output, error, cancel.Token));
        Assert.Equal($"interrupted during epoch 1; {model} unchanged.", error.ToString().TrimEnd());
        Assert.False(File.Exists(model));
        Assert.False(File.Exists(dir.File("best.safetensors")));
    }
}
