using Convnet.Runtime;
using Xunit;

namespace Convnet.Tests.Runtime;

public class WorkerPoolTests
{
    // Loops of up to 65,535 items are claimed from both ends (the caller from the front, workers
    // from the end), longer ones from the front only; either way each index runs exactly once, loop
    // after loop, whatever the thread count.
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Every_index_runs_exactly_once_in_every_loop(int threads)
    {
        using var pool = new WorkerPool(threads);
        int[] counts = [1, 2, 3, 4, 7, 16, 17, 64, 1000, ushort.MaxValue, ushort.MaxValue + 1, 70_000];
        var runs = new int[counts.Max()];
        for (int round = 0; round < 3; round++)
        {
            foreach (int count in counts)
            {
                Array.Clear(runs);
                pool.For(count, i => Interlocked.Increment(ref runs[i]));
                int wrong = runs.AsSpan(0, count).IndexOfAnyExcept(1);
                Assert.True(wrong < 0, $"{threads} threads, {count} items: index {wrong} ran {(wrong < 0 ? 1 : runs[wrong])} times");
                Assert.True(runs.AsSpan(count).IndexOfAnyExcept(0) < 0, $"{threads} threads, {count} items: an index past the count ran");
            }
        }
    }

    [Fact]
    public void The_caller_takes_the_first_item_and_a_worker_the_last()
    {
        using var pool = new WorkerPool(2);
        int caller = Environment.CurrentManagedThreadId;
        var thread = new int[8];
        // Each item waits until the other thread has claimed one, so both take part.
        int started = 0;
        pool.For(thread.Length, i =>
        {
            thread[i] = Environment.CurrentManagedThreadId;
            Interlocked.Increment(ref started);
            var spin = new SpinWait();
            while (Volatile.Read(ref started) < 2)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }
        });
        Assert.Equal(caller, thread[0]);
        Assert.NotEqual(caller, thread[^1]);
    }
}
