using Convnet.Tests.Models;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Optimizers;
using Convnet.Tensors;
using Convnet.Tests.Data;
using Xunit;
using Convnet.Training;
using Convnet.Saving;

namespace Convnet.Tests.Training;

/// <summary>Schedules against hand-computed values; callbacks driven by scripted EpochLogs; one real Fit.</summary>
public class CallbackTests
{
    private static EpochLog Log(int epoch, double valLoss, double valAccuracy = double.NaN, double loss = 1)
        => new(epoch, loss, 0.5, valLoss, valAccuracy, 0.01, 0);

    private static Sequential TinyModel(float lr = 0.01f)
    {
        var model = new Sequential(Shape.Vector(3), seed: 1, threads: 1);
        model.Add(new Dense(2)).Add(new BatchNormalization());
        model.Compile(new Sgd(lr));
        return model;
    }

    [Fact]
    public void Exponential_and_cosine_decay_match_hand_computed_values()
    {
        // 0.1 · 0.5^(step/10): step 0 → 0.1, 5 → 0.1/√2 = 0.0707107, 20 → 0.025; staircase floors 15/10 → 0.05.
        var exp = new ExponentialDecay(0.1f, 10, 0.5f);
        Assert.Equal(0.1f, exp.Rate(0));
        Assert.Equal(0.0707107, exp.Rate(5), 6);
        Assert.Equal(0.025, exp.Rate(20), 7);
        Assert.Equal(0.05, new ExponentialDecay(0.1f, 10, 0.5f, staircase: true).Rate(15), 7);
        // 1 · ((1 − 0.1)·½(1 + cos(π·t/100)) + 0.1): t = 0 → 1, 50 → 0.55, 100 and beyond → 0.1, 25 → 0.9·0.853553 + 0.1 = 0.868198.
        var cosine = new CosineDecay(1f, 100, alpha: 0.1f);
        Assert.Equal(1.0, cosine.Rate(0), 6);
        Assert.Equal(0.55, cosine.Rate(50), 6);
        Assert.Equal(0.868198, cosine.Rate(25), 6);
        Assert.Equal(0.1, cosine.Rate(100), 6);
        Assert.Equal(0.1, cosine.Rate(1000), 6);
    }

    [Fact]
    public void OneCycle_rises_to_the_peak_then_anneals_to_the_final_rate()
    {
        // maxLr 1, 101 steps, pctStart 0.3: initial 1/25 = 0.04, peak at step 0.3·101 − 1 = 29.3,
        // final 0.04/1e4 = 4e-6 at step 100. Midway up (step 14.65): 1 + (0.04 − 1)/2·(1 + cos(π/2)) = 0.52.
        var schedule = new OneCycle(1f, 101);
        Assert.Equal(0.04, schedule.Rate(0), 6);
        Assert.Equal(4e-6, schedule.Rate(100), 9);
        Assert.Equal(4e-6, schedule.Rate(500), 9);
        double peak = 0.3 * 101 - 1;
        double up = 1 + (0.04 - 1) / 2 * (1 + Math.Cos(Math.PI * 14 / peak));
        Assert.Equal(up, schedule.Rate(14), 6);
        double down = 4e-6 + (1 - 4e-6) / 2 * (1 + Math.Cos(Math.PI * (60 - peak) / (100 - peak)));
        Assert.Equal(down, schedule.Rate(60), 6);
        Assert.True(schedule.Rate(29) > 0.99 && schedule.Rate(30) > 0.99);
    }

    [Fact]
    public void A_schedule_on_the_optimizer_sets_the_rate_before_each_step()
    {
        var (store, p) = (new ParameterStore(), (Parameter?)null);
        p = store.Add("w", 1);
        var sgd = new Sgd(1f) { Schedule = new ExponentialDecay(1f, 1, 0.5f) };
        p.Gradient[0] = 1;
        sgd.Step(store.Parameters);
        Assert.Equal(-1f, p.Value[0]);
        sgd.Step(store.Parameters);
        Assert.Equal(-1.5f, p.Value[0]);
        Assert.Equal(0.5f, sgd.LearningRate);
    }

    [Fact]
    public void ReduceLROnPlateau_multiplies_the_rate_after_patience_epochs_without_improvement()
    {
        using var model = TinyModel(lr: 0.1f);
        var callback = new ReduceLROnPlateau("val_loss", factor: 0.5f, patience: 2, minLr: 0.03f);
        callback.SetModel(model);
        callback.OnTrainBegin();
        double[] losses = [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.8, 0.85, 0.86];
        float[] expected = [0.1f, 0.1f, 0.1f, 0.05f, 0.05f, 0.03f, 0.03f, 0.03f, 0.03f];
        for (int e = 0; e < losses.Length; e++)
        {
            callback.OnEpochEnd(Log(e + 1, losses[e]));
            Assert.Equal(expected[e], model.Optimizer!.LearningRate);
        }
        // Improvements smaller than minDelta (1e-4) count as none; NaN epochs are ignored.
        var accuracy = new ReduceLROnPlateau("val_accuracy", factor: 0.1f, patience: 1);
        accuracy.SetModel(model);
        accuracy.OnEpochEnd(Log(1, double.NaN, 0.9));
        accuracy.OnEpochEnd(Log(2, double.NaN, 0.90005));
        Assert.Equal(0.003f, model.Optimizer!.LearningRate, 6);
    }

    [Fact]
    public void EarlyStopping_stops_after_patience_and_restores_the_best_weights()
    {
        using var model = TinyModel();
        var callback = new EarlyStopping("val_loss", patience: 2, restoreBestWeights: true);
        callback.SetModel(model);
        callback.OnTrainBegin();
        double[] losses = [1.0, 0.7, 0.8, 0.9, 0.6];
        float[]? best = null;
        for (int e = 0; e < losses.Length && !model.StopTraining; e++)
        {
            model.Parameters[0].Value[0] = e;
            ((BatchNormalization)model.Layers[1]).MovingMean[0] = 10 + e;
            if (e == 1)
            {
                best = model.GetWeights();
            }
            callback.OnEpochEnd(Log(e + 1, losses[e]));
        }
        Assert.True(model.StopTraining);
        Assert.Equal(4, callback.StoppedEpoch);
        Assert.Equal(2, callback.BestEpoch);
        callback.OnTrainEnd();
        Assert.Equal(best, model.GetWeights());
        Assert.Equal(11f, ((BatchNormalization)model.Layers[1]).MovingMean[0]);

        var immediate = new EarlyStopping("loss");
        using var other = TinyModel();
        immediate.SetModel(other);
        immediate.OnEpochEnd(Log(1, double.NaN, loss: 1));
        Assert.False(other.StopTraining);
        immediate.OnEpochEnd(Log(2, double.NaN, loss: 1));
        Assert.True(other.StopTraining);
    }

    [Fact]
    public void ModelCheckpoint_saves_every_epoch_or_only_improvements()
    {
        using var dir = new TempDir();
        using var model = TinyModel();
        var every = new ModelCheckpoint(dir.File("e{epoch}.safetensors"));
        var best = new ModelCheckpoint(dir.File("best.safetensors"), monitor: "val_accuracy", saveBestOnly: true);
        every.SetModel(model);
        best.SetModel(model);
        double[] accuracies = [0.5, 0.7, 0.6, 0.8];
        for (int e = 0; e < accuracies.Length; e++)
        {
            model.Parameters[0].Value[0] = e;
            every.OnEpochEnd(Log(e + 1, 1, accuracies[e]));
            best.OnEpochEnd(Log(e + 1, 1, accuracies[e]));
        }
        Assert.Equal([1, 2, 3, 4], every.SavedEpochs);
        Assert.Equal([1, 2, 4], best.SavedEpochs);
        Assert.True(File.Exists(dir.File("e3.safetensors")));
        var (loaded, metadata) = ModelFile.Load(dir.File("best.safetensors"), threads: 1);
        using var _ = loaded;
        Assert.Equal("4", metadata["epoch"]);
        Assert.Equal(3f, loaded.Parameters[0].Value[0]);
    }

    [Fact]
    public void Fit_runs_callbacks_reports_each_epochs_rate_and_stops_early()
    {
        var data = SyntheticDigits.Create(60, seed: 3);
        using var model = KerasLayerModelTests.Create(seed: 2);
        model.Compile(new Adam(learningRate: 1e-3f));
        var scheduler = new LearningRateScheduler((epoch, rate) => epoch == 0 ? rate : rate / 2);
        var stop = new EarlyStopping("loss", patience: 0, minDelta: 10);
        using var dir = new TempDir();
        var checkpoint = new ModelCheckpoint(dir.File("m.safetensors"), monitor: "loss");
        var history = model.Fit(data, epochs: 5, batchSize: 20, seed: 1, callbacks: [scheduler, stop, checkpoint]);
        // Epoch 1 improves on +∞; epoch 2 cannot improve by minDelta = 10, so training stops after it.
        Assert.Equal(2, history.Epochs.Count);
        Assert.Equal(1e-3, history.Epochs[0].LearningRate, 9);
        Assert.Equal(5e-4, history.Epochs[1].LearningRate, 9);
        Assert.Equal([1, 2], checkpoint.SavedEpochs);
    }
}
