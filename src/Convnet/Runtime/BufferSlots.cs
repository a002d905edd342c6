namespace Convnet.Runtime;

/// <summary>
/// Which of a layer's per-thread buffer sets are in use: a work item rents a free one for its run
/// and returns it after. Which set holds an item's values changes no sum; a set per thread (not per
/// chunk) keeps a thread's scratch in its own cache from one item to the next.
/// </summary>
internal sealed class BufferSlots
{
    private int[] _busy = [];

    /// <summary>The sets there are room for.</summary>
    public int Count => _busy.Length;

    /// <summary>Room for <paramref name="threads"/> items at once; true when that is more than before (the caller then grows its buffers).</summary>
    public bool EnsureCapacity(int threads)
    {
        if (_busy.Length >= threads)
        {
            return false;
        }
        _busy = new int[threads];
        return true;
    }

    /// <summary>A free set: at most <see cref="Count"/> items run at once, so one is always free soon.</summary>
    public int Rent()
    {
        var spin = new SpinWait();
        while (true)
        {
            for (int s = 0; s < _busy.Length; s++)
            {
                if (Interlocked.CompareExchange(ref _busy[s], 1, 0) == 0)
                {
                    return s;
                }
            }
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>A free set if there is one now, without waiting.</summary>
    public bool TryRent(out int slot)
    {
        for (slot = 0; slot < _busy.Length; slot++)
        {
            if (Interlocked.CompareExchange(ref _busy[slot], 1, 0) == 0)
            {
                return true;
            }
        }
        slot = -1;
        return false;
    }

    /// <summary>Gives back a set <see cref="Rent"/> gave.</summary>
    public void Return(int slot) => Volatile.Write(ref _busy[slot], 0);
}
