using Convnet.IO;
using Convnet.Tests.Data;
using Xunit;

namespace Convnet.Tests.Cli;

/// <summary>
/// Every path a command will write is tried before any data is read or any training starts, and
/// the message names the user's path, not our temporary name.
/// </summary>
public sealed class CliOutputCheckTests(TrainedModelFixture trained) : IClassFixture<TrainedModelFixture>
{
    [Theory]
    [InlineData("--model", "model")]
    [InlineData("--checkpoint", "checkpoint")]
    [InlineData("--plot", "plot")]
    [InlineData("--history", "history")]
    public void An_unwritable_train_output_fails_before_the_data_is_read(string option, string what)
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv");
        string target = Path.Combine(Unwritable.Folder(dir), "out.file");
        string[] args = option == "--model"
            ? ["train", csv, "--model", target, .. CliHarness.Tiny()]
            : ["train", csv, "--model", dir.File("m.safetensors"), option, target, .. CliHarness.Tiny()];
        var result = CliHarness.Run(args);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Out); // no "Read 60 images", no "Epoch" line
        Assert.StartsWith($"error: cannot write {what} '{target}'", result.Err, StringComparison.Ordinal);
        Assert.DoesNotContain(".tmp-", result.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("m.safetensors")));
    }

    [Fact]
    public void Other_commands_try_their_outputs_first()
    {
        using var dir = new TempDir();
        string folder = Unwritable.Folder(dir);
        string csv = CliHarness.WriteDigits(dir, "test.csv");
        string[][] runs =
        [
            ["predict", csv, "--model", trained.Path, "--out", Path.Combine(folder, "submission.csv")],
            ["show", csv, "--out", Path.Combine(folder, "digits.png")],
            ["merge", trained.Path, trained.Path, "--out", Path.Combine(folder, "ensemble.safetensors")],
            ["evaluate", csv, "--model", trained.Path, "--report", Path.Combine(folder, "report")],
            ["data", "--dir", Path.Combine(folder, "data")],
        ];
        foreach (var args in runs)
        {
            var result = CliHarness.Run(args);
            Assert.True(result.ExitCode == 1, $"convnet {string.Join(' ', args)}\n{result}");
            Assert.Equal("", result.Out);
            Assert.Contains($"'{folder}", result.Err, StringComparison.Ordinal);
            Assert.DoesNotContain(".tmp-", result.Err, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_stale_temporary_file_of_the_model_is_removed_by_the_next_run_that_writes_it()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv");
        string model = dir.File("m.safetensors");
        string stale = Stale(model + ".tmp-0badc0de");
        string older = Stale(model + ".tmp-0123456789abcdef");
        string notOurs = Stale(model + ".tmp-notours1");
        string otherTarget = Stale(dir.File("other.safetensors.tmp-0badc0de"));

        CliHarness.Succeeds(["train", csv, "--model", model, .. CliHarness.Tiny()]);

        Assert.False(File.Exists(stale));
        Assert.False(File.Exists(older));
        Assert.True(File.Exists(notOurs));
        Assert.True(File.Exists(otherTarget));
    }

    private static string Stale(string path)
    {
        File.WriteAllText(path, "left by a killed run");
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow - AtomicFile.StaleAge - TimeSpan.FromMinutes(1));
        return path;
    }
}

/// <summary>A folder this process cannot create files in, even as root.</summary>
internal static class Unwritable
{
    public static string Folder(TempDir dir)
    {
        string folder = dir.File("read-only");
        Directory.CreateDirectory(folder);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        }
        try
        {
            string probe = Path.Combine(folder, "probe");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (UnauthorizedAccessException)
        {
            return folder;
        }
        // Root ignores permission bits; sysfs refuses regular files to everyone.
        return "/sys";
    }
}
