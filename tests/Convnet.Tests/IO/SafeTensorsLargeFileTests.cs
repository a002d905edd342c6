using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Convnet.IO;
using Convnet.Tests.Cli;
using Convnet.Tests.Data;
using Convnet.Tests.Support;
using Xunit;

namespace Convnet.Tests.IO;

/// <summary>
/// A consistent safetensors file with a 1 GiB tensor (a sparse file: it takes no disk) whose data
/// does not match its tensors_sha256 is refused after one streaming pass, before any tensor is
/// allocated: in this process (managed allocations) and as the CLI would meet it (peak memory of
/// a child process).
/// </summary>
public sealed class SafeTensorsLargeFileTests
{
    private const long TensorBytes = 1L << 30;

    private static string WriteSparseModel(TempDir dir)
    {
        string wrong = new('0', 64);
        string json = $"{{\"__metadata__\":{{\"format\":\"convnet\",\"format_version\":\"1\",\"{SafeTensors.ChecksumKey}\":\"{wrong}\"}},"
            + $"\"w\":{{\"dtype\":\"F32\",\"shape\":[{TensorBytes / 4}],\"data_offsets\":[0,{TensorBytes}]}}}}";
        int padded = (json.Length + 7) / 8 * 8;
        byte[] header = Encoding.UTF8.GetBytes(json.PadRight(padded));
        string path = dir.File("huge.safetensors");
        using var file = new FileStream(path, FileMode.CreateNew);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        file.Write(prefix);
        file.Write(header);
        file.SetLength(8 + header.Length + TensorBytes);
        return path;
    }

    [Fact]
    public void A_wrong_checksum_is_found_before_the_tensors_are_allocated()
    {
        using var dir = new TempDir();
        string path = WriteSparseModel(dir);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ModelFormatException>(() => SafeTensors.Read(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("checksum mismatch", e.Message, StringComparison.Ordinal);
        Assert.True(allocated < 8 << 20, $"{allocated:N0} bytes allocated to refuse the file");
    }

    [Fact]
    public void The_cli_refuses_it_with_a_small_peak_memory()
    {
        using var dir = new TempDir();
        string path = WriteSparseModel(dir);
        var (result, peakKb) = ChildProcess.RunCliMeasured(dir.Path, "summary", "--model", path);
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.StartsWith($"error: {path}: checksum mismatch", result.Err, StringComparison.Ordinal);
        Assert.True(peakKb < 400_000, $"peak resident memory {peakKb:N0} KB to refuse a file with a 1 GiB tensor");
    }
}
