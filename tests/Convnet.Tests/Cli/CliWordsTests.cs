using Convnet.Tests.Data;
using Xunit;

namespace Convnet.Tests.Cli;

/// <summary>
/// The command line in the user's words: a parse error is one line naming the option, what it
/// needs and what it got, with where to read more; never a .NET type name, never the help text.
/// </summary>
public sealed class CliWordsTests
{
    /// <summary>Asserts the one-line shape every parse error has and returns the line.</summary>
    private static string ParseError(params string[] args)
    {
        var result = CliHarness.Run(args);
        Assert.True(result.ExitCode == 1, $"convnet {string.Join(' ', args)}\n{result}");
        Assert.Equal("", result.Out);
        string[] lines = result.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"one line expected:\n{result.Err}");
        string line = lines[0];
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Description:", result.Err, StringComparison.Ordinal);
        return line;
    }

    [Theory]
    [InlineData(new[] { "train", "--seed", "-1" }, "'--seed'", "whole number from 0", "'-1'", "convnet train --help")]
    [InlineData(new[] { "train", "--epochs", "abc" }, "'--epochs'", "whole number", "'abc'", "convnet train --help")]
    [InlineData(new[] { "train", "--epochs=abc" }, "'--epochs'", "whole number", "'abc'", "convnet train --help")]
    [InlineData(new[] { "train", "--lr", "fast" }, "'--lr'", "a number", "'fast'", "convnet train --help")]
    [InlineData(new[] { "train", "--epochs" }, "'--epochs'", "whole number", "got nothing", "convnet train --help")]
    [InlineData(new[] { "train", "--seed", "99999999999999999999999" }, "'--seed'", "18446744073709551615", "'99999999999999999999999'", "convnet train --help")]
    [InlineData(new[] { "predict", "--tta", "many" }, "'--tta'", "whole number", "'many'", "convnet predict --help")]
    [InlineData(new[] { "show", "x.csv", "--columns", "1.5" }, "'--columns'", "whole number", "'1.5'", "convnet show --help")]
    [InlineData(new[] { "train", "--epochs", "1", "--epochs", "2" }, "'--epochs'", "one value", "'1' '2'", "convnet train --help")]
    public void A_bad_option_value_is_named_with_what_it_needs_and_got(string[] args, string option, string needs, string got, string help)
    {
        string line = ParseError(args);
        Assert.Contains(option, line, StringComparison.Ordinal);
        Assert.Contains(needs, line, StringComparison.Ordinal);
        Assert.Contains(got, line, StringComparison.Ordinal);
        Assert.Contains($"see '{help}'", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "train", "--epoch", "3" }, "unknown option '--epoch'; did you mean '--epochs'?")]
    [InlineData(new[] { "train", "data/train.csv", "--epoch=3" }, "unknown option '--epoch'; did you mean '--epochs'?")]
    [InlineData(new[] { "train", "--batch", "32" }, "unknown option '--batch'; did you mean '--batch-size'?")]
    [InlineData(new[] { "predict", "--modle", "m.safetensors" }, "unknown option '--modle'; did you mean '--model'?")]
    [InlineData(new[] { "train", "--verbos" }, "unknown option '--verbos'; did you mean '--verbose'?")]
    [InlineData(new[] { "train", "--frobnicate" }, "unknown option '--frobnicate' for 'convnet train'")]
    [InlineData(new[] { "train", "-x" }, "unknown option '-x' for 'convnet train' (see")]
    [InlineData(new[] { "--epochs", "3", "train" }, "option '--epochs' belongs after 'train'")]
    [InlineData(new[] { "traim" }, "unknown command 'traim'; did you mean 'train'?")]
    [InlineData(new string[0], "a command is needed: data, train")]
    [InlineData(new[] { "train", "a.csv", "b.csv" }, "unexpected argument 'b.csv'")]
    [InlineData(new[] { "merge", "one.safetensors" }, "'merge' needs MODELS (at least 2, got 1)")]
    public void An_unknown_option_or_command_is_an_error_with_a_suggestion(string[] args, string expected)
    {
        Assert.Contains(expected, ParseError(args), StringComparison.Ordinal);
    }

    [Fact]
    public void A_value_that_looks_like_an_option_is_still_the_value_of_the_option_before_it()
    {
        // "-1" is --threads's value (then refused by the command), not an unknown option.
        var result = CliHarness.Run("predict", "missing.csv", "--threads", "-1");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--threads must be 0", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void A_validator_keeps_its_own_words()
    {
        var root = new System.CommandLine.RootCommand();
        var level = new System.CommandLine.Option<int>("--level");
        level.Validators.Add(r =>
        {
            if (r.Tokens.Count == 1 && int.TryParse(r.Tokens[0].Value, System.Globalization.CultureInfo.InvariantCulture, out int v) && v > 3)
            {
                r.AddError("must be at most 3");
            }
        });
        root.Options.Add(level);
        var parse = root.Parse(["--level", "9"]);
        Assert.Equal("option '--level': must be at most 3", Convnet.Cli.ParseErrors.Describe(parse));
        Assert.Equal("option '--level' needs a whole number (at most 2147483647), got 'high'", Convnet.Cli.ParseErrors.Describe(root.Parse(["--level", "high"])));
    }

    [Fact]
    public void Help_still_wins_over_a_bad_value()
    {
        var result = CliHarness.Run("train", "--epochs", "abc", "--help");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("--epochs", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Threads_above_the_core_count_are_capped_with_a_one_line_notice()
    {
        using var dir = new TempDir();
        string model = CliHarness.TrainModel(dir);
        string csv = CliHarness.WriteDigits(dir, "test.csv", labelled: false, count: 10);
        int asked = Environment.ProcessorCount + 7;
        var result = CliHarness.Run("predict", csv, "--model", model, "--out", dir.File("s.csv"), "--threads", asked.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal($"note: --threads {asked} is more than the {Environment.ProcessorCount} cores of this machine; using {Environment.ProcessorCount}.", result.Err.TrimEnd('\n'));

        var within = CliHarness.Succeeds("predict", csv, "--model", model, "--out", dir.File("t.csv"), "--threads", "1");
        Assert.Equal("", within.Err);
        Assert.Equal(1, Convnet.Cli.Commands.Options.CheckThreads(1));
        Assert.Equal(Environment.ProcessorCount, Convnet.Cli.Commands.Options.CheckThreads(asked));
    }

    [Theory]
    [InlineData("missing.json")]
    [InlineData("specs/missing")]
    [InlineData("net.spec")]
    public void An_arch_that_looks_like_a_file_and_is_missing_says_file_not_found(string arch)
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv");
        foreach (var args in new[] { new[] { "train", csv, "--model", dir.File("m.safetensors"), "--arch", arch }, ["summary", "--arch", arch] })
        {
            var result = CliHarness.Run(args);
            Assert.Equal(1, result.ExitCode);
            Assert.Equal($"error: --arch file '{arch}' not found", result.Err.TrimEnd('\n'));
        }
        Assert.False(File.Exists(dir.File("m.safetensors")));
    }

    [Fact]
    public void A_spec_with_a_dropout_rate_is_not_taken_for_a_file()
    {
        var result = CliHarness.Succeeds("summary", "--arch", "conv8k3-relu,maxpool2,drop0.25,flatten,dense10");
        Assert.Contains("Dropout", result.Out, StringComparison.Ordinal);
    }
}
