namespace Convnet.Models;

/// <summary>
/// Keras's CallbackList: several callbacks called in order as one. Held in an array and walked with
/// an index, so the per-batch hooks allocate nothing.
/// </summary>
public sealed class CallbackList : Callback
{
    private readonly Callback[] _callbacks;

    public CallbackList(IEnumerable<Callback>? callbacks)
    {
        _callbacks = callbacks is null ? [] : [.. callbacks];
        for (int i = 0; i < _callbacks.Length; i++)
        {
            if (_callbacks[i] is null)
            {
                throw new ArgumentException($"Callback {i} is null.", nameof(callbacks));
            }
        }
    }

    public IReadOnlyList<Callback> Callbacks => _callbacks;

    public override void SetModel(Sequential model)
    {
        base.SetModel(model);
        foreach (var callback in _callbacks)
        {
            callback.SetModel(model);
        }
    }

    public override void OnTrainBegin()
    {
        foreach (var callback in _callbacks)
        {
            callback.OnTrainBegin();
        }
    }

    public override void OnEpochBegin(int epoch)
    {
        foreach (var callback in _callbacks)
        {
            callback.OnEpochBegin(epoch);
        }
    }

    public override void OnBatchBegin(int epoch, int batch)
    {
        foreach (var callback in _callbacks)
        {
            callback.OnBatchBegin(epoch, batch);
        }
    }

    public override void OnBatchEnd(in BatchLog log)
    {
        foreach (var callback in _callbacks)
        {
            callback.OnBatchEnd(log);
        }
    }

    public override void OnEpochEnd(EpochLog log)
    {
        foreach (var callback in _callbacks)
        {
            callback.OnEpochEnd(log);
        }
    }

    public override void OnTrainEnd()
    {
        foreach (var callback in _callbacks)
        {
            callback.OnTrainEnd();
        }
    }
}
