namespace Convnet.Runtime;

/// <summary>
/// How a batch is split into work items: fixed-size runs of samples, so the split (and with it
/// every floating-point summation order) depends on the batch size alone, never on the thread count.
/// </summary>
public static class Chunks
{
    /// <summary>Samples per chunk (16); the last chunk of a batch may be shorter.</summary>
    public const int Size = 16;

    /// <summary>The number of chunks a batch of <paramref name="batch"/> samples splits into, ⌈batch / <see cref="Size"/>⌉.</summary>
    public static int Count(int batch) => (batch + Size - 1) / Size;

    /// <summary>First sample and sample count of chunk <paramref name="index"/>.</summary>
    public static (int Start, int Length) Range(int index, int batch)
    {
        int start = index * Size;
        return (start, Math.Min(Size, batch - start));
    }
}
