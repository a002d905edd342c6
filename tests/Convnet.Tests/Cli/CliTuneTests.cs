using System.Diagnostics;
using Convnet.IO;
using Convnet.Tests.Data;
using Convnet.Tests.Support;
using Xunit;

namespace Convnet.Tests.Cli;

/// <summary><c>convnet tune</c>: its files, resuming after a kill, and bad spaces refused at their token.</summary>
public class CliTuneTests
{
    private static readonly string[] Fixed = ["--arch", "flatten", "--epochs", "2", "--batch-size", "16", "--threads", "1"];

    private static string[] LeaderboardWithoutSeconds(string path)
    {
        var lines = File.ReadAllLines(path);
        int seconds = Array.IndexOf(lines[0].Split(','), "seconds");
        return [.. lines.Select(l => string.Join(',', l.Split(',').Where((_, i) => i != seconds)))];
    }

    [Fact]
    public void A_search_writes_its_leaderboard_report_and_refitted_model_and_a_second_run_reuses_every_trial()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv", count: 100);
        string output = dir.File("search");
        var first = CliHarness.Succeeds(["tune", csv, "--space", """{"lr": [0.003, 0.03], "label-smoothing": [0, 0.1]}""", "--out", output, .. Fixed]);
        Assert.Contains("Searching lr, label-smoothing: grid of 4 trial(s); 1 model(s) at a time on 1 thread(s); ranked by val_accuracy", first.Out);
        Assert.Contains("Fixed: --arch flatten, --epochs 2, --batch-size 16.", first.Out);
        Assert.Contains("│ rank │ trial │", first.Out);
        Assert.Matches(@"Best: trial \d \(lr [0-9.]+, label-smoothing [0-9.]+\), val_accuracy", first.Out);
        Assert.Contains($"Saved {Path.Combine(output, "best.safetensors")}.", first.Out);

        var csvLines = File.ReadAllLines(Path.Combine(output, "leaderboard.csv"));
        Assert.Equal("rank,trial,lr,label-smoothing,val_accuracy_mean,val_accuracy_std,val_loss_mean,val_loss_std,epochs,seconds,rung,failure", csvLines[0]);
        Assert.Equal(5, csvLines.Length);
        Assert.Equal(4, Directory.GetFiles(Path.Combine(output, "trials"), "trial-*.json").Length);
        foreach (string png in new[] { "accuracy-lr.png", "accuracy-label-smoothing.png", "curves.png" })
        {
            Assert.Equal((byte)0x89, File.ReadAllBytes(Path.Combine(output, png))[0]);
        }
        string html = File.ReadAllText(Path.Combine(output, "report.html"));
        Assert.Contains("<img src=\"accuracy-lr.png\"", html);
        Assert.Contains("<img src=\"curves.png\"", html);
        var (_, metadata) = SafeTensors.Read(Path.Combine(output, "best.safetensors"));
        Assert.Equal(csvLines[1].Split(',')[1], metadata["tune_trial"]);
        Assert.Equal("100", metadata["train_images"]);                       // all the data, no validation split

        var second = CliHarness.Succeeds(["tune", csv, "--space", """{"lr": [0.003, 0.03], "label-smoothing": [0, 0.1]}""", "--out", output, .. Fixed, "--refit", "false"]);
        Assert.Matches(@"4 trial\(s\) in [0-9.]+ s \(4 of the 4 results from an earlier run\)\. Wrote ", second.Out);
        Assert.DoesNotContain("Training the best settings", second.Out);
        string[] before = [.. csvLines.Select(l => string.Join(',', l.Split(',').Where((_, i) => i != 9)))];
        Assert.Equal(before, LeaderboardWithoutSeconds(Path.Combine(output, "leaderboard.csv")));
    }

    [Fact]
    public void A_search_killed_midway_and_run_again_gives_the_uninterrupted_leaderboard()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv", count: 100);
        string[] search = ["tune", csv, "--space", """{"lr": {"min": 0.001, "max": 0.05, "log": true}}""", "--strategy", "random", "--trials", "6", "--refit", "false", .. Fixed];
        CliHarness.Succeeds([.. search, "--out", dir.File("whole")]);

        string killed = dir.File("killed");
        using (var process = Start([.. search, "--out", killed]))
        {
            string trials = Path.Combine(killed, "trials");
            var clock = Stopwatch.StartNew();
            while (!process.HasExited && clock.Elapsed < TimeSpan.FromMinutes(1)
                && !(Directory.Exists(trials) && Directory.GetFiles(trials, "trial-*.json").Length >= 2))
            {
                Thread.Sleep(2);
            }
            Assert.False(process.HasExited, "the search ended before it could be killed");
            process.Kill();
            process.WaitForExit();
        }
        int kept = Directory.GetFiles(Path.Combine(killed, "trials"), "trial-*.json").Length;
        Assert.InRange(kept, 2, 5);
        Assert.False(File.Exists(Path.Combine(killed, "leaderboard.csv")));
        var again = CliHarness.Succeeds([.. search, "--out", killed]);
        Assert.Contains($"({kept} of the 6 results from an earlier run)", again.Out);
        Assert.Equal(LeaderboardWithoutSeconds(dir.File("whole/leaderboard.csv")), LeaderboardWithoutSeconds(Path.Combine(killed, "leaderboard.csv")));
    }

    private static Process Start(string[] args)
    {
        var start = new ProcessStartInfo(ChildProcess.DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Convnet.Cli.dll"));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        var process = Process.Start(start)!;
        // Drained so that a full pipe never blocks the child.
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        return process;
    }

    /// <summary>Fails with exit 1, nothing on stdout, no .NET names, and nothing written to --out.</summary>
    private static string Refused(TempDir dir, params string[] args)
    {
        string output = dir.File("out");
        var result = CliHarness.Run(["tune", CliHarness.WriteDigits(dir, "train.csv", count: 60), "--out", output, .. args]);
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.StartsWith("error: ", result.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", result.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", result.Err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(output), "nothing is written for a bad command");
        return result.Err.Replace("\r", "", StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_spaces_are_reported_at_their_token_in_one_message()
    {
        using var dir = new TempDir();
        Assert.Equal(
            "error: --space: column 16: \"lr\": min 0.01 is above max 0.001\n  {\"lr\": {\"min\": 0.01, \"max\": 0.001}}\n                 ^\n",
            Refused(dir, "--space", """{"lr": {"min": 0.01, "max": 0.001}}"""));
        Assert.Equal(
            "error: --space: column 2: unknown option \"learning-rat\" (did you mean \"lr\"?)\n  {\"learning-rat\": [0.1]}\n   ^\n",
            Refused(dir, "--space", """{"learning-rat": [0.1]}"""));
        string file = dir.Write("space.json", "{\n  \"batch-size\": [64],\n  \"arch\": \"conv{16|32k3,flatten\"\n}\n");
        Assert.Equal($"error: --space {file}:3:16: \"arch\": '{{' at column 5 is not closed by '}}'\n", Refused(dir, "--space", file));
        Assert.Contains("error: --space file 'nope.json' not found", Refused(dir, "--space", "nope.json"));
        Assert.Contains("\"lr\": is in the space and also given as --lr", Refused(dir, "--space", """{"lr": [0.1]}""", "--lr", "0.2"));
        Assert.Contains("error: --lr must be positive, got -1", Refused(dir, "--space", """{"batch-size": [8]}""", "--lr", "-1"));
        Assert.Contains("--strategy halving sets each rung's epochs", Refused(dir, "--space", """{"epochs": [1, 2]}""", "--strategy", "halving"));
        Assert.Contains("error: --strategy grid: \"lr\" is a range of real numbers", Refused(dir, "--space", """{"lr": {"min": 0.001, "max": 0.1}}""", "--strategy", "grid"));
        Assert.Contains("error: --space: trial 1 (optimizer adam, weight-decay 0.01): weight-decay 0.01 needs optimizer adamw", Refused(dir, "--space", """{"optimizer": ["adamw", "adam"], "weight-decay": [0.01]}"""));
        Assert.Contains("error: --time-budget needs a time such as 90s, 30m, 2h or 1h30m, got 'soon'", Refused(dir, "--space", """{"lr": [0.1]}""", "--time-budget", "soon"));
        Assert.Contains("error: --folds must be 2 or more", Refused(dir, "--space", """{"lr": [0.1]}""", "--folds", "1"));
        Assert.Contains("\"seed\" is not searched: each trial's seed comes from --seed", Refused(dir, "--space", """{"seed": [1, 2]}"""));
    }

    [Fact]
    public void A_directory_of_another_search_is_refused_and_left_as_it_was()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv", count: 60);
        string output = dir.File("search");
        CliHarness.Succeeds(["tune", csv, "--space", """{"lr": [0.01]}""", "--out", output, "--refit", "false", .. Fixed]);
        string board = File.ReadAllText(Path.Combine(output, "leaderboard.csv"));
        var other = CliHarness.Run(["tune", csv, "--space", """{"lr": [0.02]}""", "--out", output, .. Fixed]);
        Assert.Equal(1, other.ExitCode);
        Assert.Matches(@"^error: --out: .*search holds another search \(space is '.*0\.01.*' there, '.*0\.02.*' here\); run the same command to continue it, or give another --out\n$", other.Err.Replace("\r", ""));
        Assert.Equal(board, File.ReadAllText(Path.Combine(output, "leaderboard.csv")));
        Assert.Single(Directory.GetFiles(Path.Combine(output, "trials")));

        string mine = dir.File("mine");
        Directory.CreateDirectory(mine);
        File.WriteAllText(Path.Combine(mine, "report.html"), "my own report");
        var notOurs = CliHarness.Run(["tune", csv, "--space", """{"lr": [0.01]}""", "--out", mine, .. Fixed]);
        Assert.Equal(1, notOurs.ExitCode);
        Assert.Contains("is not empty and holds no search.json", notOurs.Err);
        Assert.Equal("my own report", File.ReadAllText(Path.Combine(mine, "report.html")));
    }

    [Fact]
    public void The_help_documents_the_space_grammar()
    {
        var help = CliHarness.Succeeds("tune", "--help");
        foreach (string part in new[] { "\"log\": true", "{16|32|64}", "{0.2..0.5}", "arch{k}", "--strategy", "--folds", "--time-budget", "--refit", "halving" })
        {
            Assert.Contains(part, help.Out);
        }
    }
}
