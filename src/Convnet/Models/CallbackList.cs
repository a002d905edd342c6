namespace Convnet.Models;

/// <summary>
/// Keras's CallbackList: several callbacks called in order as one. Held in an array and walked with
/// an index, so the per-batch hooks allocate nothing.
/// </summary>
public sealed class CallbackList : Callback
{
    private readonly Callback[] _callbacks;

    /// <summary>A list of <paramref name="callbacks"/>, copied, to be called in the order given.</summary>
    /// <param name="callbacks">The callbacks; null for none.</param>
    /// <exception cref="ArgumentException">One of the callbacks is null.</exception>
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

    /// <summary>The callbacks, in call order.</summary>
    public IReadOnlyList<Callback> Callbacks => _callbacks;

    /// <inheritdoc/>
    /// <remarks>Sets the model of every callback in the list too.</remarks>
    public override void SetModel(Sequential model)
    {
        base.SetModel(model);
        foreach (var callback in _callbacks)
        {
            callback.SetModel(model);
        }
    }

    /// <inheritdoc/>
    public override void OnTrainBegin()
    {
        foreach (var callback in _callbacks)
        {
            callback.OnTrainBegin();
        }
    }

    /// <inheritdoc/>
    public override void OnEpochBegin(int epoch)
    {
        foreach (var callback in _callbacks)
        {
            callback.OnEpochBegin(epoch);
        }
    }

    /// <inheritdoc/>
    public override void OnBatchBegin(int epoch, int batch)
    {
        foreach (var callback in _callbacks)
        {
            callback.OnBatchBegin(epoch, batch);
        }
    }

    /// <inheritdoc/>
    public override void OnBatchEnd(in BatchLog log)
    {
        foreach (var callback in _callbacks)
        {
            callback.OnBatchEnd(log);
        }
    }

    /// <inheritdoc/>
    public override void OnEpochEnd(EpochLog log)
    {
        foreach (var callback in _callbacks)
        {
            callback.OnEpochEnd(log);
        }
    }

    /// <inheritdoc/>
    public override void OnTrainEnd()
    {
        foreach (var callback in _callbacks)
        {
            callback.OnTrainEnd();
        }
    }
}
