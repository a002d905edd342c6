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

    // A thread with no item left calls help while another still runs one (item 0 waits until help
    // has begun), and For returns only after help has finished and said there is no more.
    [Fact]
    public void A_thread_with_no_item_left_helps_and_For_waits_for_its_help()
    {
        using var pool = new WorkerPool(2);
        int started = 0, finished = 0, calls = 0;
        pool.For(2, i =>
        {
            if (i == 0)
            {
                var watch = System.Diagnostics.Stopwatch.StartNew();
                while (Volatile.Read(ref started) == 0)
                {
                    Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), "help never began while item 0 ran");
                    Thread.Yield();
                }
            }
        }, () =>
        {
            if (Interlocked.Increment(ref calls) > 1)
            {
                return false;
            }
            Volatile.Write(ref started, 1);
            Thread.Sleep(50);
            Volatile.Write(ref finished, 1);
            return true;
        });
        Assert.Equal(1, Volatile.Read(ref finished));
    }

    [Theory]
    [InlineData(1, 5)]
    [InlineData(2, 1)]
    public void One_thread_or_one_item_runs_whole_items_and_never_helps(int threads, int count)
    {
        using var pool = new WorkerPool(threads);
        int runs = 0;
        pool.For(count, _ => Interlocked.Increment(ref runs), () => throw new InvalidOperationException("help called"));
        Assert.Equal(count, runs);
    }

    [Fact]
    public void An_exception_in_help_reaches_the_caller()
    {
        using var pool = new WorkerPool(2);
        int helped = 0;
        var error = Assert.Throws<AggregateException>(() => pool.For(2, i =>
        {
            var spin = new SpinWait();
            while (i == 0 && Volatile.Read(ref helped) == 0)
            {
                spin.SpinOnce();
            }
        }, () =>
        {
            Volatile.Write(ref helped, 1);
            throw new InvalidOperationException("help failed");
        }));
        Assert.Equal("help failed", error.InnerException!.Message);
        // The pool still runs loops after it.
        int runs = 0;
        pool.For(4, _ => Interlocked.Increment(ref runs));
        Assert.Equal(4, runs);
    }
}
