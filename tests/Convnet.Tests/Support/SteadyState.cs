namespace Convnet.Tests.Support;

/// <summary>Measures what a repeated step allocates on the calling thread once it is warm.</summary>
internal static class SteadyState
{
    /// <summary>
    /// The fewest bytes allocated on this thread by <paramref name="steps"/> calls of
    /// <paramref name="step"/>, over <paramref name="windows"/> consecutive windows. A step that
    /// allocates shows in every window; the minimum discards a one-off by the runtime itself
    /// (seen once as 160 bytes in a full CI run and never reproduced alone; dotnet/runtime
    /// documents the per-thread counter as occasionally off the same way).
    /// </summary>
    public static long AllocatedBytes(Action step, int steps = 5, int windows = 3)
    {
        long fewest = long.MaxValue;
        for (int w = 0; w < windows; w++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < steps; i++)
            {
                step();
            }
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return fewest;
    }
}
