using System.Globalization;
using Convnet.IO;
using Convnet.Models;
using Convnet.Saving;

namespace Convnet.Training;

/// <summary>
/// Keras's ModelCheckpoint: saves the model after each epoch (atomically, via <see cref="ModelFile.Save"/>),
/// or with saveBestOnly only when <see cref="Monitor"/> improved; never an epoch whose weights are not finite. "{epoch}" in the path is replaced by the epoch number.
/// </summary>
public sealed class ModelCheckpoint : Callback, IStatefulCallback
{
    private double _best;

    /// <param name="metadata">Extra metadata written into each saved file, besides "epoch".</param>
    public ModelCheckpoint(string path, string monitor = "val_loss", bool saveBestOnly = false, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = path;
        MonitorName = CheckMonitor(monitor);
        SaveBestOnly = saveBestOnly;
        Metadata = metadata ?? new Dictionary<string, string>();
        OnTrainBegin();
    }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    public string Path { get; }
    public string MonitorName { get; }
    public bool SaveBestOnly { get; }

    /// <summary>Epochs saved so far, in order.</summary>
    public List<int> SavedEpochs { get; } = [];

    public override void OnTrainBegin() => _best = Maximize(MonitorName) ? double.NegativeInfinity : double.PositiveInfinity;

    public override void OnEpochEnd(EpochLog log)
    {
        if (!RequireModel().WeightsAreFinite())
        {
            // A diverged epoch is never saved: the last finite one stays in the file.
            return;
        }
        if (SaveBestOnly)
        {
            double current = Monitor(log, MonitorName);
            bool better = Maximize(MonitorName) ? current > _best : current < _best;
            if (double.IsNaN(current) || !better)
            {
                return;
            }
            _best = current;
        }
        string path = Path.Replace("{epoch}", log.Epoch.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var metadata = new Dictionary<string, string>(Metadata) { ["epoch"] = log.Epoch.ToString(CultureInfo.InvariantCulture) };
        ModelFile.Save(RequireModel(), path, metadata);
        SavedEpochs.Add(log.Epoch);
    }

    public void SaveState(CallbackState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.Set("best", _best);
        state.Set("saved_epochs", string.Join(',', SavedEpochs.Select(e => e.ToString(CultureInfo.InvariantCulture))));
    }

    public void RestoreState(CallbackState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        _best = state.GetDouble("best");
        string saved = state.GetString("saved_epochs");
        var epochs = new List<int>();
        foreach (string item in saved.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            epochs.Add(int.TryParse(item, NumberStyles.Integer, CultureInfo.InvariantCulture, out int epoch)
                ? epoch
                : throw new FormatException($"callback value 'saved_epochs' is '{saved}', not a list of epochs"));
        }
        SavedEpochs.Clear();
        SavedEpochs.AddRange(epochs);
    }
}
