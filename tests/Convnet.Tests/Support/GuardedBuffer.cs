using System.Runtime.InteropServices;

namespace Convnet.Tests.Support;

/// <summary>
/// Floats that end exactly where an inaccessible page begins (Linux mmap + mprotect): a kernel
/// that reads or writes one element past the end faults, which tests cannot miss, instead of
/// touching whatever the managed heap keeps there.
/// </summary>
internal sealed unsafe partial class GuardedBuffer : IDisposable
{
    private const int ProtRead = 1, ProtWrite = 2, ProtNone = 0, MapPrivate = 2, MapAnonymous = 0x20;

    private readonly nint _mapping;
    private readonly nuint _mappedBytes;
    private readonly float* _start;

    public GuardedBuffer(int length)
    {
        nuint page = (nuint)Environment.SystemPageSize;
        nuint bytes = (nuint)length * sizeof(float);
        nuint dataPages = (bytes + page - 1) / page;
        _mappedBytes = (dataPages + 1) * page;
        _mapping = Mmap(0, _mappedBytes, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (_mapping == -1)
        {
            throw new InvalidOperationException($"mmap failed: errno {Marshal.GetLastPInvokeError()}");
        }
        byte* guard = (byte*)_mapping + dataPages * page;
        if (Mprotect((nint)guard, page, ProtNone) != 0)
        {
            throw new InvalidOperationException($"mprotect failed: errno {Marshal.GetLastPInvokeError()}");
        }
        _start = (float*)(guard - bytes);
        Length = length;
    }

    public int Length { get; }

    public Span<float> Span => new(_start, Length);

    public static GuardedBuffer Of(ReadOnlySpan<float> values)
    {
        var buffer = new GuardedBuffer(values.Length);
        values.CopyTo(buffer.Span);
        return buffer;
    }

    public void Dispose() => _ = Munmap(_mapping, _mappedBytes);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    private static partial int Mprotect(nint address, nuint length, int protection);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint address, nuint length);
}
