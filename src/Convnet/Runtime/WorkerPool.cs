namespace Convnet.Runtime;

/// <summary>
/// A fixed set of threads that run <c>body(i)</c> for i in [0, count), the calling thread taking
/// part. Unlike <c>Parallel.For</c> a call allocates nothing, so a training step stays
/// allocation-free. Work items must be independent of which thread runs them: callers split work
/// into a fixed number of chunks that depends on the data size only, never on the thread count,
/// which keeps results bit-identical for any number of threads.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    private const int SpinIterations = 20_000;

    private readonly Thread[] _workers;
    private readonly object _gate = new();
    private Action<int>? _body;
    private int _count;
    private int _next;
    private int _finishedWorkers;
    private int _generation;
    private bool _disposed;
    private Exception? _error;

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

    public int ThreadCount { get; }

    /// <summary>Runs <paramref name="body"/> for every index in [0, count) and returns when all are done.</summary>
    public void For(int count, Action<int> body)
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
        _body = body;
        _count = count;
        _error = null;
        Volatile.Write(ref _next, 0);
        Volatile.Write(ref _finishedWorkers, 0);
        lock (_gate)
        {
            _generation++;
            Monitor.PulseAll(_gate);
        }
        RunItems();
        var spin = new SpinWait();
        while (Volatile.Read(ref _finishedWorkers) < _workers.Length)
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }
        _body = null;
        if (_error is { } error)
        {
            throw new AggregateException("A parallel work item failed.", error);
        }
    }

    private void RunItems()
    {
        var body = _body!;
        int count = _count;
        int i;
        while ((i = Interlocked.Increment(ref _next) - 1) < count)
        {
            try
            {
                body(i);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, e, null);
            }
        }
    }

    private void WorkerLoop()
    {
        int seen = 0;
        while (true)
        {
            // Spin briefly: a training step issues many short parallel loops back to back.
            int spins = 0;
            while (Volatile.Read(ref _generation) == seen && spins < SpinIterations)
            {
                Thread.SpinWait(20);
                spins++;
            }
            lock (_gate)
            {
                while (_generation == seen && !_disposed)
                {
                    Monitor.Wait(_gate);
                }
                if (_disposed)
                {
                    return;
                }
                seen = _generation;
            }
            RunItems();
            Interlocked.Increment(ref _finishedWorkers);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            Monitor.PulseAll(_gate);
        }
    }
}
