using Convnet.Architecture;
using Convnet.Data;
using Convnet.IO;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Optimizers;
using Convnet.Saving;
using Convnet.Tensors;
using Convnet.Tests.Data;
using Convnet.Tests.Models;
using Convnet.Training;
using Xunit;

namespace Convnet.Tests.Training;

/// <summary>The callback mechanism, the typed schedules, the trainers and the divergence guard.</summary>
public class TrainerTests
{
    /// <summary>Records every hook but the batch ones, which count batches and read this thread's allocated bytes at the 3rd and each later batch end.</summary>
    private sealed class Recorder : Callback
    {
        public List<string> Calls { get; } = [];
        public int Batches { get; private set; }
        public long AllocatedFrom { get; private set; }
        public long AllocatedTo { get; private set; }

        public override void OnTrainBegin() => Calls.Add("train_begin");
        public override void OnEpochBegin(int epoch) => Calls.Add($"epoch_begin {epoch}");
        public override void OnEpochEnd(EpochLog log) => Calls.Add($"epoch_end {log.Epoch}");
        public override void OnTrainEnd() => Calls.Add("train_end");

        public override void OnBatchBegin(int epoch, int batch)
        {
        }

        public override void OnBatchEnd(in BatchLog log)
        {
            // No list append here: the hook itself must not allocate.
            Batches++;
            if (Batches == 3)
            {
                AllocatedFrom = GC.GetAllocatedBytesForCurrentThread();
            }
            AllocatedTo = GC.GetAllocatedBytesForCurrentThread();
        }
    }

    [Fact]
    public void Fit_calls_train_epoch_and_batch_hooks_in_order_and_its_steps_allocate_nothing()
    {
        var data = SyntheticDigits.Create(160, seed: 3);
        using var model = ReferenceModel.Create(seed: 1, threads: 1);
        model.Compile(new Adam());
        var recorder = new Recorder();
        // A warm-up Fit sizes every buffer; the second is measured.
        model.Fit(data, epochs: 1, batchSize: 16, seed: 1);
        model.Fit(data, epochs: 2, batchSize: 16, seed: 1, callbacks: [recorder, new TerminateOnNaN()]);

        Assert.Equal(["train_begin", "epoch_begin 1", "epoch_end 1", "epoch_begin 2", "epoch_end 2", "train_end"], recorder.Calls);
        Assert.Equal(20, recorder.Batches);
    }

    [Fact]
    public void A_training_step_with_batch_hooks_allocates_nothing_within_an_epoch()
    {
        var data = SyntheticDigits.Create(320, seed: 3);
        using var model = ReferenceModel.Create(seed: 1, threads: 1);
        model.Compile(new Adam(clipNorm: 1f));
        model.Fit(data, epochs: 1, batchSize: 16, seed: 1);
        var recorder = new Recorder();
        model.Fit(data, epochs: 1, batchSize: 16, seed: 1, callbacks: [recorder, new TerminateOnNaN()]);
        // From the 3rd step's end to the 20th's (the epoch's last): 17 steps, the Fit loop and both callbacks' batch hooks.
        Assert.Equal(20, recorder.Batches);
        Assert.True(recorder.AllocatedTo > 0);
        Assert.Equal(0, recorder.AllocatedTo - recorder.AllocatedFrom);
    }

    [Fact]
    public void TerminateOnNaN_stops_at_the_first_non_finite_loss_and_Fit_logs_no_partial_epoch()
    {
        var data = SyntheticDigits.Create(128, seed: 4);
        using var model = ReferenceModel.Create(seed: 1, threads: 1);
        model.Compile(new Sgd(1e30f));
        var guard = new TerminateOnNaN();
        var history = model.Fit(data, epochs: 3, batchSize: 16, seed: 1, callbacks: [guard]);
        Assert.True(guard.Diverged);
        Assert.Equal(1, guard.Epoch);
        Assert.InRange(guard.Batch, 2, 8);
        Assert.Equal("loss", guard.What);
        Assert.False(double.IsFinite(guard.Loss));
        Assert.Empty(history.Epochs);
    }

    [Fact]
    public void A_gradient_norm_that_is_not_finite_stops_training_when_clipping_computes_it()
    {
        var guard = new TerminateOnNaN();
        using var model = new Sequential(Shape.Vector(2), seed: 1, threads: 1);
        model.Add(new Dense(2));
        var optimizer = new Sgd(0.1f, clipNorm: 1f);
        model.Compile(optimizer);
        guard.SetModel(model);
        var data = new Dataset([1, 2, 3, 4], [0, 1], Shape.Vector(2));
        model.TrainBatch(data, [0, 1], out _);
        guard.OnBatchEnd(new BatchLog(1, 1, 1, 1, 2, 2, 0.5, 0.5, 0.5, 0.1));
        Assert.False(guard.Diverged);
        Assert.NotNull(optimizer.GradientNorm);
        model.Parameters[0].Gradient.Fill(float.NaN);
        optimizer.Step(model.Parameters);
        guard.OnBatchEnd(new BatchLog(1, 1, 1, 1, 2, 2, 0.5, 0.5, 0.5, 0.1));
        Assert.True(guard.Diverged);
        Assert.Equal("gradient norm", guard.What);
        Assert.True(model.StopTraining);
    }

    [Fact]
    public void ModelFile_refuses_to_save_non_finite_weights_and_leaves_the_old_file_as_it_was()
    {
        using var dir = new TempDir();
        string path = dir.File("model.safetensors");
        using var model = ReferenceModel.Create(seed: 1, threads: 1);
        model.Save(path);
        byte[] before = File.ReadAllBytes(path);
        var weights = model.GetWeights();
        weights[17] = float.PositiveInfinity;
        model.SetWeights(weights);
        Assert.False(model.WeightsAreFinite());
        var e = Assert.Throws<ModelFormatException>(() => model.Save(path));
        Assert.Contains("NaN or infinite", e.Message);
        Assert.Throws<ModelFormatException>(() => ModelFile.SaveEnsemble([model], path));
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void ModelCheckpoint_never_saves_an_epoch_whose_weights_are_not_finite()
    {
        using var dir = new TempDir();
        string path = dir.File("best.safetensors");
        using var model = ReferenceModel.Create(seed: 1, threads: 1);
        var checkpoint = new ModelCheckpoint(path, "loss", saveBestOnly: true);
        checkpoint.SetModel(model);
        checkpoint.OnEpochEnd(new EpochLog(1, 2.0, 0.5, double.NaN, double.NaN, 0.1, 1));
        byte[] first = File.ReadAllBytes(path);
        var weights = model.GetWeights();
        weights[0] = float.NaN;
        model.SetWeights(weights);
        checkpoint.OnEpochEnd(new EpochLog(2, 1.0, 0.6, double.NaN, double.NaN, 0.1, 1));
        Assert.Equal([1], checkpoint.SavedEpochs);
        Assert.Equal(first, File.ReadAllBytes(path));
    }

    [Theory]
    [InlineData("constant", "constant")]
    [InlineData("cosine", "cosine")]
    [InlineData("onecycle", "onecycle")]
    [InlineData("exponential", "exponential:0.95")]
    [InlineData("exponential:0.9", "exponential:0.9")]
    [InlineData("exponential:1", "exponential:1")]
    public void RateSchedule_reads_the_command_lines_text_and_writes_it_back(string text, string canonical)
    {
        Assert.Equal(canonical, RateSchedule.Parse(text).ToString());
        Assert.Equal(RateSchedule.Parse(canonical), RateSchedule.Parse(text));
    }

    [Theory]
    [InlineData("linear", "schedule must be constant, cosine, exponential[:RATE] or onecycle, got 'linear'")]
    [InlineData("exponential:0", "schedule 'exponential:0': the exponential rate must be a number in (0, 1]")]
    [InlineData("exponential:x", "schedule 'exponential:x': the exponential rate must be a number in (0, 1]")]
    [InlineData("cosine:2", "schedule must be constant, cosine, exponential[:RATE] or onecycle, got 'cosine:2'")]
    public void RateSchedule_refuses_other_text_with_a_message_naming_it(string text, string message)
    {
        var e = Assert.Throws<FormatException>(() => RateSchedule.Parse(text));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Per_epoch_schedules_give_bit_for_bit_the_rates_the_command_line_computed_before()
    {
        // The CLI's former ScheduledRate: lr·½(1 + cos(π·e/E)) and lr·rate^e, in double, rounded to float.
        const float lr = 0.001f;
        const int epochs = 30;
        var cosine = RateSchedule.Cosine.PerEpoch(lr, epochs)!;
        var exponential = RateSchedule.Exponential(0.95f).PerEpoch(lr, epochs)!;
        for (int e = 0; e < epochs; e++)
        {
            Assert.Equal((float)(lr * 0.5 * (1 + Math.Cos(Math.PI * e / epochs))), cosine.Rate(e));
            Assert.Equal((float)(lr * Math.Pow(0.95f, e)), exponential.Rate(e));
        }
        Assert.Null(RateSchedule.Constant.PerEpoch(lr, epochs));
        Assert.Null(RateSchedule.Cosine.PerStep(lr, 100));
        Assert.IsType<OneCycle>(RateSchedule.OneCycle.PerStep(lr, 100));
    }

    [Theory]
    [InlineData("adam", typeof(Adam))]
    [InlineData("adamw", typeof(AdamW))]
    [InlineData("rmsprop", typeof(RmsProp))]
    [InlineData("sgd", typeof(Sgd))]
    public void OptimizerFactory_makes_each_optimizer_by_name(string name, Type type)
    {
        var optimizer = OptimizerFactory.Create(name, 0.01f, clipNorm: 2f, emaMomentum: 0.9f);
        Assert.IsType(type, optimizer);
        Assert.Equal(0.01f, optimizer.LearningRate);
        Assert.Equal(2f, optimizer.ClipNorm);
        Assert.Equal(0.9f, optimizer.EmaMomentum);
    }

    [Fact]
    public void OptimizerFactory_refuses_unknown_names_and_settings_the_optimizer_does_not_take()
    {
        Assert.Contains("unknown optimizer 'adagrad'", Assert.Throws<ArgumentException>(() => OptimizerFactory.Create("adagrad", 0.1f)).Message);
        Assert.Throws<ArgumentException>(() => OptimizerFactory.Create("adam", 0.1f, weightDecay: 0.1f));
        Assert.Throws<ArgumentException>(() => OptimizerFactory.Create("adamw", 0.1f, momentum: 0.9f));
        Assert.Equal(0.01f, ((AdamW)OptimizerFactory.Create("adamw", 0.1f, weightDecay: 0.01f)).WeightDecay);
    }

    [Fact]
    public void Clone_copies_the_weights_and_state_and_predicts_the_same()
    {
        var data = SyntheticDigits.Create(64, seed: 8);
        using var model = new Sequential(Shape.Image(28, 28, 1), seed: 3, threads: 2) { Name = "bn" };
        model.Add(new Conv2D(4, 3)).Add(new ReLU()).Add(new BatchNormalization()).Add(new MaxPooling2D(2)).Add(new Flatten()).Add(new Dense(10)).Add(new Softmax());
        model.Compile(new Adam());
        model.Fit(data, epochs: 1, batchSize: 16, seed: 1);
        using var copy = model.Clone();
        Assert.Equal("bn", copy.Name);
        Assert.Equal(1, copy.Threads);
        Assert.Null(copy.Optimizer);
        Assert.True(copy.HasSameArchitecture(model));
        Assert.Equal(model.GetWeights(), copy.GetWeights());
        Assert.Equal(model.Predict(data), copy.Predict(data));
    }

    /// <summary>The README's "The library in C#" training lines, on synthetic digits and one epoch instead of data/train.csv.</summary>
    [Fact]
    public void The_readme_trains_the_strong_recipe_and_a_3_member_ensemble_in_a_few_lines()
    {
        using var dir = new TempDir();
        var data = SyntheticDigits.Create(96, seed: 2);
        var settings = TrainingSettings.For(Architectures.Strong) with { Epochs = 1, BatchSize = 16 };

        using var strong = new Trainer(settings).Train(data);
        strong.Model.Save(dir.File("strong.safetensors"), strong.Metadata);
        using var three = new EnsembleTrainer(settings, members: 3).Train(data);
        three.Ensemble.Save(dir.File("ensemble.safetensors"), three.Metadata);

        Assert.Single(strong.History!.Epochs);
        Assert.Equal("strong", strong.Metadata["arch"]);
        Assert.Equal("exponential:0.95", strong.Metadata["lr_schedule"]);
        Assert.Equal("0.999", strong.Metadata["ema_momentum"]);
        Assert.Equal(3, three.Ensemble.Members.Count);
        Assert.Equal([1UL, 2UL, 3UL], three.Members.Select(m => m.Seed));
        // Member 0 is the single run with the same seed, bit for bit.
        Assert.Equal(strong.Model.GetWeights(), three.Ensemble.Members[0].GetWeights());
        var (loaded, _) = ModelFile.LoadEnsemble(dir.File("ensemble.safetensors"), threads: 1);
        using (loaded)
        {
            Assert.Equal(three.Ensemble.Members[2].GetWeights(), loaded.Members[2].GetWeights());
        }
    }

    [Fact]
    public void Trainer_throws_when_training_diverges_and_says_where()
    {
        var data = SyntheticDigits.Create(64, seed: 2);
        var settings = new TrainingSettings { Architecture = "flatten,dense16-relu", Epochs = 2, BatchSize = 16, LearningRate = 1e30f, Optimizer = "sgd", Augmentation = Augmentation.None, ValidationSplit = 0 };
        var e = Assert.Throws<TrainingDivergedException>(() => new Trainer(settings).Train(data).Dispose());
        Assert.Equal(1, e.Epoch);
        Assert.StartsWith("training diverged: the loss became ", e.Message);
        Assert.Contains(" of epoch 1", e.Message);
        var ensemble = Assert.Throws<TrainingDivergedException>(() => new EnsembleTrainer(settings, members: 2, parallelMembers: 2).Train(data).Dispose());
        Assert.InRange(ensemble.Member, 0, 1);
    }
}
