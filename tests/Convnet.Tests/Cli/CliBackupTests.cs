using System.Diagnostics;
using Convnet.IO;
using Convnet.Runtime;
using Convnet.Tests.Data;
using Convnet.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Convnet.Tests.Cli;

/// <summary>
/// <c>train --backup DIR</c> against real interruptions: the built CLI runs as a child process and
/// is killed (SIGKILL) at random moments, while its backup is being written, or stopped with
/// SIGINT; running the same command again until it finishes gives the uninterrupted run's model,
/// tensors and metadata (but timings) alike.
/// </summary>
public sealed class CliBackupTests(ITestOutputHelper log)
{
    // Dense(192) after a 13×13×8 map: 260,000 parameters, so each backup (weights, Adam's two
    // moments, the moving average) is 4 MB and takes long enough to be caught in the middle.
    private static readonly string[] Options =
    [
        "--arch", "conv8k3-relu-bn,maxpool2,drop0.2,flatten,dense192-relu,drop0.2,dense10", "--epochs", "6", "--batch-size", "20",
        "--validation-split", "0.1", "--threads", "1", "--ema", "0.9", "--augment", "rotation=10,shift=0.1", "--reduce-lr-on-plateau", "1", "--seed", "5",
    ];

    [Fact]
    public async Task Killed_at_random_moments_and_during_the_backup_write_a_run_resumes_to_the_uninterrupted_model()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv", count: 200);
        string reference = dir.File("reference.safetensors");
        CliHarness.Succeeds(["train", csv, "--model", reference, .. Options]);

        string model = dir.File("model.safetensors");
        string backup = dir.File("backup");
        string[] args = ["train", csv, "--model", model, "--backup", backup, .. Options];
        var rng = new Rng((ulong)Environment.TickCount64);
        var outcomes = new List<string>();
        bool resumed = false;
        // Kill in the middle of the first backup's write (nothing to resume yet), of a later one (the
        // previous backup must survive), at a random moment, then Ctrl-C; then run to the end.
        foreach (string how in new[] { "during the first write", "during a later write", "random", "sigint", "random" })
        {
            using var process = Start(args);
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            string outcome = how switch
            {
                "during the first write" => KillDuringBackupWrite(process, backup, later: false),
                "during a later write" => KillDuringBackupWrite(process, backup, later: true),
                "random" => KillAfter(process, TimeSpan.FromMilliseconds(300 + rng.NextInt(1500))),
                _ => Interrupt(process, backup),
            };
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "the killed process did not end");
            string output = await stdout, errors = await stderr;
            resumed |= output.Contains("Resuming from ", StringComparison.Ordinal);
            outcomes.Add($"{how}: {outcome}, exit {process.ExitCode}, backup holds {BackupEpochs(backup)}");
            if (process.ExitCode == 0)
            {
                break;
            }
            if (how == "sigint" && outcome == "sent SIGINT")
            {
                Assert.Equal(130, process.ExitCode);
                Assert.True(errors.Contains("run the same command again to resume from", StringComparison.Ordinal), $"stdout:\n{output}\nstderr:\n{errors}");
            }
        }
        log.WriteLine(string.Join('\n', outcomes));
        if (!File.Exists(model))
        {
            var last = CliHarness.Succeeds(args);
            resumed |= last.Out.Contains("Resuming from ", StringComparison.Ordinal);
            Assert.Matches(@"Resuming from .*backup: epoch \d of 6 done\.", last.Out);
        }
        Assert.True(resumed, string.Join('\n', outcomes));
        CliHarness.AssertSameModel(reference, model);
        Assert.Equal(SafeTensors.ReadMetadata(reference)[SafeTensors.ChecksumKey], SafeTensors.ReadMetadata(model)[SafeTensors.ChecksumKey]);
        Assert.False(Directory.Exists(backup), "the backup is deleted once the model is saved");
    }

    [Fact]
    public void An_ensemble_keeps_a_backup_per_member_and_resumes_to_the_same_file()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv", count: 100);
        string[] options = ["--epochs", "3", "--batch-size", "20", "--validation-split", "0.1", "--threads", "2", "--ensemble", "2", "--augment", "none", "--arch", "conv4k3-relu,maxpool2,flatten,dense10"];
        string reference = dir.File("reference.safetensors");
        CliHarness.Succeeds(["train", csv, "--model", reference, .. options]);

        string model = dir.File("model.safetensors");
        string backup = dir.File("backup");
        string[] args = ["train", csv, "--model", model, "--backup", backup, .. options];
        using (var process = Start(args))
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            string outcome = KillWhen(process, () => File.Exists(Path.Combine(backup, "member0", "backup.safetensors")) || File.Exists(Path.Combine(backup, "member1", "backup.safetensors")));
            process.WaitForExit();
            log.WriteLine($"{outcome}; exit {process.ExitCode}");
        }
        var resumed = CliHarness.Succeeds(args);
        Assert.Contains("resuming from", resumed.Out, StringComparison.Ordinal);
        CliHarness.AssertSameModel(reference, model);
        Assert.False(Directory.Exists(backup));
    }

    [Fact]
    public void A_backup_of_other_settings_or_a_damaged_one_is_refused_in_one_line()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv");
        string backup = dir.File("backup");
        string model = dir.File("model.safetensors");
        string[] options = ["--epochs", "3", "--batch-size", "20", "--validation-split", "0", "--threads", "1", "--arch", "conv4k3-relu,maxpool2,flatten,dense10"];
        using (var process = Start(["train", csv, "--model", model, "--backup", backup, .. options]))
        {
            _ = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            string outcome = KillWhen(process, () => File.Exists(Path.Combine(backup, "backup.safetensors")));
            process.WaitForExit();
            Assert.True(outcome.StartsWith("killed", StringComparison.Ordinal), outcome);
        }
        string file = Path.Combine(backup, "backup.safetensors");
        byte[] good = File.ReadAllBytes(file);

        var other = CliHarness.Run(["train", csv, "--model", model, "--backup", backup, .. options, "--lr", "0.002"]);
        Assert.Equal(1, other.ExitCode);
        Assert.Matches(@"^error: .*backup\.safetensors: this backup belongs to a different run \(.*learning_rate is 0\.001 there, 0\.002 here.*\); run the same command again to resume it, or delete .* to start afresh\n$", other.Err.Replace("\r", ""));
        Assert.DoesNotContain("System.", other.Err, StringComparison.Ordinal);
        Assert.Equal(good, File.ReadAllBytes(file));

        File.WriteAllBytes(file, good[..(good.Length / 2)]);
        var damaged = CliHarness.Run(["train", csv, "--model", model, "--backup", backup, .. options]);
        Assert.Equal(1, damaged.ExitCode);
        Assert.StartsWith($"error: {file}: ", damaged.Err, StringComparison.Ordinal);
        Assert.Single(damaged.Err.TrimEnd().Split('\n'));
        Assert.Equal("", damaged.Out);
        Assert.False(File.Exists(model));

        File.WriteAllText(dir.File("plain-file"), "x");
        var notFolder = CliHarness.Run(["train", csv, "--model", model, "--backup", dir.File("plain-file"), .. options]);
        Assert.Equal(1, notFolder.ExitCode);
        Assert.Contains("--backup", notFolder.Err, StringComparison.Ordinal);
        Assert.Contains("is a file", notFolder.Err, StringComparison.Ordinal);
    }

    private static Process Start(string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Convnet.Cli.dll");
        var start = new ProcessStartInfo(ChildProcess.DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        return Process.Start(start)!;
    }

    /// <summary>SIGKILL as soon as a temporary backup file exists (the write is under way; with <paramref name="later"/>, beside a complete backup).</summary>
    private static string KillDuringBackupWrite(Process process, string backup, bool later) =>
        KillWhen(process, () => Directory.Exists(backup) && Directory.EnumerateFiles(backup, "*.tmp-*").Any()
            && (!later || File.Exists(Path.Combine(backup, "backup.safetensors"))));

    private static string KillWhen(Process process, Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!process.HasExited && clock.Elapsed < TimeSpan.FromMinutes(1))
        {
            if (condition())
            {
                process.Kill();
                return $"killed at {clock.ElapsedMilliseconds} ms";
            }
            Thread.Sleep(1);
        }
        return "ran to its end";
    }

    private static string KillAfter(Process process, TimeSpan delay)
    {
        if (process.WaitForExit(delay))
        {
            return "ran to its end";
        }
        process.Kill();
        return $"killed at {delay.TotalMilliseconds} ms";
    }

    /// <summary>Ctrl-C once this process has written a backup (it is training): the process ends itself, with exit code 130.</summary>
    private static string Interrupt(Process process, string backup)
    {
        var clock = Stopwatch.StartNew();
        string file = Path.Combine(backup, "backup.safetensors");
        var before = File.Exists(file) ? File.GetLastWriteTimeUtc(file) : DateTime.MinValue;
        while (!process.HasExited && !(File.Exists(file) && File.GetLastWriteTimeUtc(file) != before) && clock.Elapsed < TimeSpan.FromMinutes(1))
        {
            Thread.Sleep(5);
        }
        if (process.HasExited)
        {
            return "ran to its end";
        }
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit();
        return "sent SIGINT";
    }

    private static string BackupEpochs(string backup)
    {
        try
        {
            return Convnet.Training.BackupAndRestore.PeekEpochs(backup) is { } epochs ? $"epoch {epochs}" : "nothing";
        }
        catch (ModelFormatException e)
        {
            return $"a damaged file ({e.Message})";
        }
    }
}
