namespace Convnet.Runtime;

/// <summary>
/// How a batch is split into work items: fixed-size runs of samples, so the split (and with it
/// every floating-point summation order) depends on the batch size alone, never on the thread count.
/// </summary>
public static class Chunks
{
    /// <summary>Samples per chunk (16); the last chunk of a batch may be shorter.</summary>
    public const int Size = 16;

    /// <summary>
    /// Samples per work item (a quarter of a chunk) of a pass that treats each sample on its own:
    /// <see cref="Size"/> is set by the sums that must not depend on the threads, not by balance.
    /// </summary>
    public const int Part = 4;

    /// <summary>The smallest multiple of <paramref name="samples"/> (per run of a kernel) that is at least <see cref="Part"/> and divides <see cref="Size"/>; <see cref="Size"/> when none does.</summary>
    public static int PartOf(int samples)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(samples, 1);
        for (int s = samples; s < Size; s += samples)
        {
            if (s >= Part && Size % s == 0)
            {
                return s;
            }
        }
        return Size;
    }

    /// <summary>The number of chunks a batch of <paramref name="batch"/> samples splits into, ⌈batch / <see cref="Size"/>⌉.</summary>
    public static int Count(int batch) => (batch + Size - 1) / Size;

    /// <summary>First sample and sample count of chunk <paramref name="index"/>.</summary>
    public static (int Start, int Length) Range(int index, int batch)
    {
        int start = index * Size;
        return (start, Math.Min(Size, batch - start));
    }
}
