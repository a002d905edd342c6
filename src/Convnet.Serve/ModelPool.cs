using System.Collections.Concurrent;
using Convnet.Models;

namespace Convnet.Serve;

/// <summary>
/// Copies of one classifier that predict in parallel. A model keeps its activations in buffers of
/// its own, so one instance serves one request at a time: a request rents an instance, decodes its
/// pictures and predicts with it, and gives it back. One instance with all the threads is the
/// "single model behind a lock" design; one instance per core with one thread each is the pool
/// (docs/benchmarks.md, Serving, compares them).
/// </summary>
internal sealed class ModelPool : IDisposable
{
    private readonly IClassifier[] _instances;
    private readonly ConcurrentBag<IClassifier> _free;
    private readonly SemaphoreSlim _available;

    /// <param name="model">The model to copy (left as it is; the caller still owns it).</param>
    /// <param name="instances">How many copies, at least 1.</param>
    /// <param name="threads">Worker threads of each copy, at least 1.</param>
    public ModelPool(IClassifier model, int instances, int threads)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(instances, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        var made = new List<IClassifier>(instances);
        try
        {
            for (int i = 0; i < instances; i++)
            {
                made.Add(Copy(model, threads));
            }
        }
        catch
        {
            made.ForEach(m => m.Dispose());
            throw;
        }
        _instances = [.. made];
        _free = new ConcurrentBag<IClassifier>(_instances);
        _available = new SemaphoreSlim(instances, instances);
    }

    /// <summary>The number of copies.</summary>
    public int Count => _instances.Length;

    /// <summary>One of the copies, for looking at (shape, classes, layers), never for predicting.</summary>
    public IClassifier Any => _instances[0];

    /// <summary>Waits for a free instance; dispose the lease to give it back.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> fired first.</exception>
    public async ValueTask<Lease> RentAsync(CancellationToken cancellation)
    {
        await _available.WaitAsync(cancellation).ConfigureAwait(false);
        if (!_free.TryTake(out var model))
        {
            _available.Release();
            throw new InvalidOperationException("The pool's count and its free instances disagree.");
        }
        return new Lease(this, model);
    }

    public void Dispose()
    {
        foreach (var model in _instances)
        {
            model.Dispose();
        }
        _available.Dispose();
    }

    private static IClassifier Copy(IClassifier model, int threads) => model switch
    {
        Sequential sequential => sequential.Clone(threads),
        Ensemble ensemble => CopyEnsemble(ensemble, threads),
        _ => throw new ArgumentException($"Only a Sequential model or an Ensemble can be served, not {model.GetType().Name}.", nameof(model)),
    };

    private static Ensemble CopyEnsemble(Ensemble ensemble, int threads)
    {
        var members = new List<Sequential>();
        try
        {
            foreach (var member in ensemble.Members)
            {
                members.Add(member.Clone(threads));
            }
            return new Ensemble(members);
        }
        catch
        {
            members.ForEach(m => m.Dispose());
            throw;
        }
    }

    /// <summary>An instance rented from the pool until disposed.</summary>
    public readonly struct Lease(ModelPool pool, IClassifier model) : IDisposable
    {
        public IClassifier Model { get; } = model;

        public void Dispose()
        {
            pool._free.Add(Model);
            pool._available.Release();
        }
    }
}
