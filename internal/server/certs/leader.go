package certs

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// Elected runs a Rotator on the one replica that holds a Lease. It is a
// manager runnable that every replica runs: a replica that loses the Lease
// stops writing and campaigns again, instead of exiting, since it keeps
// serving admission either way. It emits no Events, so it needs no RBAC on
// them, only get and update on its Lease (and create when the Lease does
// not exist yet).
type Elected struct {
	// Leases reaches the Lease.
	Leases coordinationv1client.LeasesGetter
	// Lease names the Lease.
	Lease metav1.ObjectMeta
	// Identity is this replica's name in the Lease.
	Identity string
	// Rotator is what the leader runs.
	Rotator *Rotator
	// LeaseDuration, RenewDeadline and RetryPeriod tune the election
	// (controller-runtime's defaults when zero).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// OnLeading is called with true when this replica starts leading and
	// false when it stops; optional.
	OnLeading func(bool)
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: the
// manager's own election would exit the process on a lost lease, which
// would also stop admission on this replica.
func (e *Elected) NeedLeaderElection() bool { return false }

// Start campaigns until ctx is done, and gives the Lease up on the way out
// so another replica takes over at once.
func (e *Elected) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("tls").WithValues("lease", e.Lease.Namespace+"/"+e.Lease.Name, "identity", e.Identity)
	ctx = logf.IntoContext(ctx, log)
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: &resourcelock.LeaseLock{
				LeaseMeta:  e.Lease,
				Client:     e.Leases,
				LockConfig: resourcelock.ResourceLockConfig{Identity: e.Identity},
			},
			LeaseDuration:   orDefault(e.LeaseDuration, 15*time.Second),
			RenewDeadline:   orDefault(e.RenewDeadline, 10*time.Second),
			RetryPeriod:     orDefault(e.RetryPeriod, 2*time.Second),
			ReleaseOnCancel: true,
			Name:            e.Lease.Name,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					log.Info("Leading: this replica writes the serving certificate and the CA bundles")
					e.notify(true)
					e.Rotator.Run(ctx)
				},
				OnStoppedLeading: func() {
					log.Info("Stopped leading")
					e.notify(false)
				},
			},
		})
		if err != nil {
			return err
		}
		le.Run(ctx)
	}
	return nil
}

func (e *Elected) notify(leading bool) {
	if e.OnLeading != nil {
		e.OnLeading(leading)
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
