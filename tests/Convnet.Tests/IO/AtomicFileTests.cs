using Convnet.IO;
using Convnet.Tests.Cli;
using Convnet.Tests.Data;
using Xunit;

namespace Convnet.Tests.IO;

public sealed class AtomicFileTests
{
    private static string Stale(string path, TimeSpan age)
    {
        File.WriteAllText(path, "partial");
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow - age);
        return path;
    }

    [Fact]
    public void Only_our_own_old_unlocked_temporary_files_of_the_target_are_removed()
    {
        using var dir = new TempDir();
        string target = dir.File("model.safetensors");
        var old = AtomicFile.StaleAge + TimeSpan.FromMinutes(5);
        string ours8 = Stale(target + ".tmp-89abcdef", old);
        string ours16 = Stale(target + ".tmp-0123456789abcdef", old);
        string young = Stale(target + ".tmp-00000001", TimeSpan.Zero);
        string upper = Stale(target + ".tmp-89ABCDEF", old);
        string longer = Stale(target + ".tmp-89abcdef0", old);
        string user = Stale(target + ".tmp-backup", old);
        string other = Stale(dir.File("other.safetensors.tmp-89abcdef"), old);
        string locked = Stale(target + ".tmp-7777aaaa", old);

        IReadOnlyList<string> removed;
        using (new FileStream(locked, FileMode.Open, FileAccess.Write, FileShare.None))
        {
            removed = AtomicFile.RemoveStaleTemporaries(target);
        }

        Assert.Equal(new[] { ours16, ours8 }.Order(), removed.Order());
        foreach (var kept in new[] { young, upper, longer, user, other, locked })
        {
            Assert.True(File.Exists(kept), kept);
        }
    }

    [Fact]
    public void Writing_removes_the_stale_temporary_files_of_its_target()
    {
        using var dir = new TempDir();
        string target = dir.File("submission.csv");
        string stale = Stale(target + ".tmp-12345678", AtomicFile.StaleAge + TimeSpan.FromMinutes(1));
        AtomicFile.WriteAllText(target, "ImageId,Label\n");
        Assert.False(File.Exists(stale));
        Assert.Equal(new[] { target }, Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Errors_name_the_destination_not_the_temporary_file()
    {
        using var dir = new TempDir();
        string target = Path.Combine(Unwritable.Folder(dir), "model.safetensors");
        var create = Assert.ThrowsAny<Exception>(() => AtomicFile.WriteAllBytes(target, [1, 2, 3]));
        Assert.True(create is IOException or UnauthorizedAccessException, create.ToString());
        Assert.Equal($"cannot write '{target}': permission denied", create.Message);
        Assert.Throws(create.GetType(), () => AtomicFile.CheckWritable(target));

        // A rename onto a folder fails at Commit: still the user's name.
        string folderTarget = dir.File("taken");
        Directory.CreateDirectory(folderTarget);
        var file = AtomicFile.Create(folderTarget);
        file.Stream.Write([1, 2, 3]);
        var commit = Assert.ThrowsAny<IOException>(file.Commit);
        Assert.StartsWith($"cannot write '{folderTarget}'", commit.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(".tmp-", commit.Message, StringComparison.Ordinal);
        file.Dispose();
        Assert.Equal(new[] { folderTarget }, Directory.GetFileSystemEntries(dir.Path).Where(p => p.StartsWith(folderTarget, StringComparison.Ordinal)));
    }

    [Fact]
    public void Checking_a_writable_target_leaves_nothing_behind()
    {
        using var dir = new TempDir();
        string target = dir.File("plot.png");
        AtomicFile.CheckWritable(target);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }
}
