namespace Convnet.Training;

/// <summary>
/// A callback that carries state from epoch to epoch (a best value, a wait count, the best
/// weights): <see cref="BackupAndRestore"/> saves it with every backup and gives it back when a
/// run resumes, so the resumed run decides exactly as the uninterrupted one would.
/// </summary>
public interface IStatefulCallback
{
    /// <summary>Writes the state as it is after the last OnEpochEnd.</summary>
    void SaveState(CallbackState state);

    /// <summary>Takes back a state <see cref="SaveState"/> wrote; throws <see cref="FormatException"/> for a missing or bad value.</summary>
    void RestoreState(CallbackState state);
}
