using System.CommandLine;
using Convnet.Tests.Data;
using Xunit;
using App = Convnet.Cli.Cli;

namespace Convnet.Tests.Cli;

/// <summary>The command tree is built per call: runs in one process must not affect each other.</summary>
public sealed class CliRepeatedRunTests
{
    [Fact]
    public void Verbose_applies_only_to_the_run_that_asks_for_it()
    {
        using var dir = new TempDir();
        string missing = dir.File("missing.safetensors");
        for (int i = 0; i < 3; i++)
        {
            var quiet = CliHarness.Run("summary", "--model", missing);
            var verbose = CliHarness.Run("summary", "--model", missing, "--verbose");
            var verboseFirst = CliHarness.Run("--verbose", "summary", "--model", missing);

            Assert.Equal(1, quiet.ExitCode);
            Assert.Equal(1, verbose.ExitCode);
            Assert.Equal(1, verboseFirst.ExitCode);
            Assert.DoesNotContain("   at ", quiet.Err);
            Assert.Contains("   at ", verbose.Err);
            Assert.Contains("   at ", verboseFirst.Err);
        }
    }

    [Fact]
    public void Concurrent_runs_in_one_process_each_get_their_own_result()
    {
        using var dir = new TempDir();
        string missing = dir.File("missing.safetensors");
        var results = new CliResult[64];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
            results[i] = i % 2 == 0
                ? CliHarness.Run("summary", "--model", missing, "--verbose")
                : CliHarness.Run("summary", "--arch", "simple"));

        for (int i = 0; i < results.Length; i++)
        {
            if (i % 2 == 0)
            {
                Assert.Equal(1, results[i].ExitCode);
                Assert.Contains("   at ", results[i].Err);
            }
            else
            {
                Assert.Equal(0, results[i].ExitCode);
                Assert.Contains("225,034", results[i].Out);
            }
        }
    }

    [Fact]
    public void Two_command_trees_share_no_option_or_argument()
    {
        var first = Symbols(App.CreateRoot()).ToHashSet();
        var second = Symbols(App.CreateRoot()).ToHashSet();

        Assert.Contains(first, s => s.Name == App.VerboseName);
        Assert.Empty(first.Intersect(second));
        Assert.All(first, s => Assert.Single(s.Parents));
    }

    private static IEnumerable<Symbol> Symbols(Command command) =>
        command.Options.Cast<Symbol>()
            .Concat(command.Arguments)
            .Concat(command.Subcommands.SelectMany(Symbols));
}
