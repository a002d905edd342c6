namespace Convnet.Runtime;

/// <summary>
/// A fixed set of threads that run <c>body(i)</c> for i in [0, count), the calling thread taking
/// part. Unlike <c>Parallel.For</c> a call allocates nothing, so a training step stays
/// allocation-free. Work items must be independent of which thread runs them: callers split every
/// sum into chunks fixed by the data size only, never by the thread count, which keeps results
/// bit-identical for any number of threads (how the items around those sums are cut may depend on
/// the threads: see <see cref="ChunkItems"/>).
/// </summary>
public sealed class WorkerPool : IDisposable
{
    private const int SpinIterations = 4_000;

    private readonly Thread[] _workers;
    private readonly object _gate = new();
    private Action<int>? _body;
    private Func<bool>? _help;
    private int _count;
    // Threads inside a loop's help: For returns only when none is.
    private int _helping;
    private bool _fromBothEnds;
    // (generation << 32) | claims: the next unclaimed index, or (loops of at most 65,535 items)
    // (items claimed from the end << 16) | items claimed from the front. Claiming with a
    // compare-and-swap on both halves means a worker that wakes late can never run an item of a
    // newer loop with an older body, count or claim form.
    private long _state;
    private int _completed;
    private bool _disposed;
    private Exception? _error;

    /// <summary>Starts <paramref name="threads"/> − 1 worker threads; the calling thread is the last worker.</summary>
    public WorkerPool(int threads)
    {
        if (threads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "threads must be at least 1.");
        }
        ThreadCount = threads;
        _workers = new Thread[threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"convnet-worker-{i + 1}" };
            _workers[i].Start();
        }
    }

    /// <summary>The threads that run a loop, the caller's included.</summary>
    public int ThreadCount { get; }

    /// <summary>
    /// Runs <paramref name="body"/> for every index in [0, count) and returns when all are done.
    /// The caller works too and never waits for a worker that has not started: on a busy machine
    /// it simply does more of the items itself.
    /// </summary>
    public void For(int count, Action<int> body) => For(count, body, null);

    /// <summary>
    /// <see cref="For(int, Action{int})"/>, where a thread that finds no item left to start calls
    /// <paramref name="help"/> until it returns false before it waits for the items still running:
    /// a body can hand parts of its item to other threads that way (each part's result must not
    /// depend on the thread that runs it). Help is never called once every item is done, and this
    /// returns only when no thread is in it. One item, or one thread: the body runs each item whole.
    /// </summary>
    public void For(int count, Action<int> body, Func<bool>? help)
    {
        if (count <= 0)
        {
            return;
        }
        if (count == 1 || _workers.Length == 0)
        {
            for (int i = 0; i < count; i++)
            {
                body(i);
            }
            return;
        }
        ObjectDisposedException.ThrowIf(_disposed, this);
        // Close the previous loop's generation before publishing the new body and count: a worker
        // late in RunItems that read the old state (index = the old count) could otherwise compare
        // it with the new count, read the new body and claim an item with a CAS on the old state,
        // running one item twice and counting it into the new loop's completions (seen as an
        // access violation in a training step on an oversubscribed machine). A worker that sees the
        // closed generation finds no item and waits for the next one.
        long closed = (Volatile.Read(ref _state) >> 32) + 1;
        Interlocked.Exchange(ref _state, (closed << 32) | int.MaxValue);
        _body = body;
        _help = help;
        _count = count;
        // The caller claims from the front and the workers from the end, so that with two threads
        // each takes the same samples' chunks in one layer after another while they keep pace, and
        // its own cache holds what it wrote (a chunk moving between cores is read from the other's).
        _fromBothEnds = count <= ushort.MaxValue;
        _error = null;
        Volatile.Write(ref _completed, 0);
        long generation = closed + 1;
        Interlocked.Exchange(ref _state, generation << 32);
        lock (_gate)
        {
            Monitor.PulseAll(_gate);
        }
        RunItems(generation, fromEnd: false);
        if (help is not null)
        {
            Help(generation);
        }
        var spin = new SpinWait();
        while (Volatile.Read(ref _completed) < count || Volatile.Read(ref _helping) > 0)
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }
        if (_error is { } error)
        {
            throw new AggregateException("A parallel work item failed.", error);
        }
    }

    private void RunItems(long generation, bool fromEnd)
    {
        while (true)
        {
            long state = Volatile.Read(ref _state);
            if (state >> 32 != generation)
            {
                return;
            }
            int count = _count;
            var body = _body;
            int index;
            long claimed;
            if (_fromBothEnds)
            {
                int front = (int)(state & 0xFFFF), back = (int)((state >> 16) & 0xFFFF);
                if (front + back >= count)
                {
                    return;
                }
                (index, claimed) = fromEnd ? (count - 1 - back, state + (1L << 16)) : (front, state + 1);
            }
            else
            {
                (index, claimed) = ((int)(state & 0xFFFF_FFFF), state + 1);
                if (index >= count)
                {
                    return;
                }
            }
            if (body is null)
            {
                return;
            }
            if (Interlocked.CompareExchange(ref _state, claimed, state) != state)
            {
                continue;
            }
            try
            {
                body(index);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, e, null);
            }
            Interlocked.Increment(ref _completed);
        }
    }

    // Calls the loop's help while it finds work. A thread counts itself in before it checks that the
    // loop is still running (its items not all done, its generation current), and For waits for
    // the items and then for that count: a thread that finds the loop running is waited for, and
    // one that arrives after For saw the count at 0 finds the items done.
    private void Help(long generation)
    {
        Interlocked.Increment(ref _helping);
        try
        {
            var help = Volatile.Read(ref _help);
            int count = Volatile.Read(ref _count);
            // Published generations are even: For closes one (odd) before it opens the next.
            if (help is not null && Volatile.Read(ref _completed) < count && Volatile.Read(ref _state) >> 32 == generation && generation % 2 == 0)
            {
                while (help())
                {
                }
            }
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _error, e, null);
        }
        finally
        {
            Interlocked.Decrement(ref _helping);
        }
    }

    private void WorkerLoop()
    {
        long seen = 0;
        while (true)
        {
            // Spin briefly: a training step issues many short parallel loops back to back.
            int spins = 0;
            while (Volatile.Read(ref _state) >> 32 == seen && spins < SpinIterations)
            {
                Thread.SpinWait(20);
                spins++;
            }
            lock (_gate)
            {
                while (Volatile.Read(ref _state) >> 32 == seen && !_disposed)
                {
                    Monitor.Wait(_gate);
                }
                if (_disposed)
                {
                    return;
                }
            }
            seen = Volatile.Read(ref _state) >> 32;
            RunItems(seen, fromEnd: true);
            if (Volatile.Read(ref _help) is not null)
            {
                Help(seen);
            }
        }
    }

    /// <summary>Stops the worker threads.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            Monitor.PulseAll(_gate);
        }
    }
}
